"""Keyset pagination with opaque cursors.

A listing names its orderings once, each ending in a unique column so that rows never tie::

    BY_NAME = Keyset("name", TestCase.name, TestCase.id)
    stmt = BY_NAME.paginate(select(TestCase), cursor=cursor, limit=limit)
    rows = (await session.scalars(stmt)).all()
    items, next_cursor = BY_NAME.page(rows, limit=limit, key=lambda c: (c.name, c.id))

Pages are stable under concurrent inserts: a cursor is the last row's key, never an offset.
A cursor made for one ordering is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, ColumnElement, Select, SmallInteger, tuple_
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import TypeEngine

from testops_kit.errors import InvalidRequest, field_error

T = TypeVar("T")
R = TypeVar("R")
Sel = TypeVar("Sel", bound=Select[*tuple[Any, ...]])

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1–{MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(max_length=1024, description="Opaque cursor from a previous page's `next_cursor`."),
]


class Page(BaseModel, Generic[T]):
    """One page of a collection."""

    items: list[T]
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last page.")


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"
    title = "Invalid cursor"


def _invalid(reason: str) -> InvalidCursor:
    return InvalidCursor(
        f"The cursor is not valid here: {reason}. Start again without a cursor.",
        errors=[field_error(["query", "cursor"], reason)],
    )


def _fits(type_: TypeEngine[Any], value: int) -> bool:
    """Whether ``value`` can be bound to an integer column of ``type_`` on every dialect."""
    bits = 64 if isinstance(type_, BigInteger) else 16 if isinstance(type_, SmallInteger) else 32
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)


class Keyset:
    """An ordering over columns whose last one is unique, all ascending or all descending."""

    def __init__(
        self,
        name: str,
        *columns: ColumnElement[Any] | QueryableAttribute[Any],
        descending: bool = False,
    ) -> None:
        self.name = name
        self.columns = columns
        self.descending = descending

    def order_by(self) -> list[Any]:
        return [c.desc() if self.descending else c.asc() for c in self.columns]

    def paginate(self, stmt: Sel, *, cursor: str | None, limit: int) -> Sel:
        """``stmt`` ordered, started after ``cursor``, and limited to one row past the page."""
        stmt = stmt.order_by(*self.order_by()).limit(limit + 1)
        if cursor is None:
            return stmt
        values = self.decode(cursor)
        key = tuple_(*self.columns)
        # A plain tuple is bound with the columns' own types (UTCDateTime on SQLite stores text
        # in its own format, so an untyped datetime would compare wrongly).
        bound = tuple(values)
        return stmt.where(key < bound if self.descending else key > bound)

    def page(
        self, rows: Sequence[R], *, limit: int, key: Callable[[R], Sequence[Any]]
    ) -> tuple[list[R], str | None]:
        """The page's rows and the cursor of the next page (None when this one is the last)."""
        items = list(rows[:limit])
        if len(rows) <= limit or not items:
            return items, None
        return items, self.encode(key(items[-1]))

    def encode(self, values: Sequence[Any]) -> str:
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        raw = json.dumps({"o": self.name, "k": plain}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise _invalid("it is not a cursor this service issued") from None
        if not isinstance(data, dict) or not isinstance(data.get("k"), list):
            raise _invalid("it is not a cursor this service issued")
        if data.get("o") != self.name:
            raise _invalid(f"it was issued for another ordering than {self.name!r}")
        values: list[Any] = data["k"]
        if len(values) != len(self.columns):
            raise _invalid("it is not a cursor this service issued")
        return [
            self._typed(column, value) for column, value in zip(self.columns, values, strict=True)
        ]

    @staticmethod
    def _typed(column: ColumnElement[Any] | QueryableAttribute[Any], value: Any) -> Any:
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            return value
        if python_type is datetime:
            try:
                moment = datetime.fromisoformat(value)
                # In UTC now: a moment that only fits the calendar with its offset fails here.
                return moment if moment.tzinfo is None else moment.astimezone(UTC)
            except (TypeError, ValueError, OverflowError):
                raise _invalid("it is not a cursor this service issued") from None
        if python_type is int and (
            not isinstance(value, int) or isinstance(value, bool) or not _fits(column.type, value)
        ):
            raise _invalid("it is not a cursor this service issued")
        # PostgreSQL text cannot hold NUL, so no issued cursor does (and binding one would fail).
        if python_type is str and (not isinstance(value, str) or "\x00" in value):
            raise _invalid("it is not a cursor this service issued")
        return value
