"""Field types shared by every service's schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(lambda value: _as_utc(value).isoformat(), return_type=str, when_used="json"),
]
"""A point in time, rendered as RFC 3339 with an explicit ``+00:00`` offset; naive input is UTC."""

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _date_time(value: object) -> object:
    # Pydantic would also take a number of seconds ("0.5") or a bare date.
    if isinstance(value, str) and not _DATE_TIME.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-31T09:00:00Z")
    return value


def _bound_in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-05:00 is later than any stored time, 0001-01-01T00:00:00+05:00
        # earlier: as a bound they mean the latest and the earliest time there is.
        return _LATEST if value.year == datetime.max.year else _EARLIEST


TimestampQuery = Annotated[datetime, BeforeValidator(_date_time), AfterValidator(_bound_in_utc)]
"""A bound in time asked for in a query string: RFC 3339 (``2026-01-31T09:00:00+02:00``; naive
means UTC), in UTC once parsed, every valid date-time taken."""

MAX_ID = 2_147_483_647


def _integral(value: object) -> object:
    # JSON has one kind of number: 3.0 is the integer 3, as JSON Schema's `integer` says. 3.5,
    # "3" and true are still refused by the strict check that follows.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


DbId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True), BeforeValidator(_integral)]
"""An integer id as stored (positive, 32-bit)."""

Position = Annotated[int, Field(ge=1, le=1_000_000, strict=True), BeforeValidator(_integral)]
"""A 1-based place in an ordered list."""

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The resource's id.")]
"""A path parameter holding an id."""


NO_NUL_PATTERN = r"^[^\x00]*$"
"""A pattern for query strings: no NUL characters, which PostgreSQL text cannot hold."""

NOT_BLANK_PATTERN = r"[^\t-\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""A pattern for text that is trimmed and then may not be empty: one character that is not
whitespace as Pydantic's trimming sees it (Unicode's White_Space)."""


def reject_nul(value: str) -> str:
    """Validator: refuse NUL characters (PostgreSQL text cannot hold them)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value
