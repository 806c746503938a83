"""Keyset pagination: opaque cursors that round-trip, are refused when foreign, end with null."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from testops_kit.database import Database, SessionDep, UTCDateTime
from testops_kit.errors import InvalidRequest
from testops_kit.pagination import Cursor, InvalidCursor, Keyset, Limit, Page
from testops_kit.testing import app_client, assert_problem

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

BY_ID = Keyset("id", items.c.id)
BY_NAME = Keyset("name", items.c.name, items.c.id)
BY_RECENT = Keyset("recent", items.c.updated_at, items.c.id, descending=True)
ORDERINGS = {"id": BY_ID, "name": BY_NAME, "recent": BY_RECENT}
T0 = datetime(2025, 9, 10, 9, 0, tzinfo=UTC)


class Item(BaseModel):
    id: int
    name: str


router = APIRouter()


@router.get("/items")
async def list_items(
    session: SessionDep,
    sort: Literal["id", "name", "recent"] = "id",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[Item]:
    keyset = ORDERINGS[sort]
    stmt = keyset.paginate(select(items), cursor=cursor, limit=limit)
    rows = (await session.execute(stmt)).all()
    page, next_cursor = keyset.page(
        rows, limit=limit, key=lambda row: [getattr(row, c.name) for c in keyset.columns]
    )
    return Page(items=[Item(id=row.id, name=row.name) for row in page], next_cursor=next_cursor)


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("pages")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def client(
    build_app: Callable[..., FastAPI], database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = database
        yield

    async with app_client(build_app(router, lifespan=lifespan)) as client:
        yield client


async def add_items(database: Database, *rows: dict[str, Any]) -> None:
    async with database.session(write=True) as session:
        await session.execute(insert(items), list(rows))


async def walk(client: httpx.AsyncClient, sort: str, limit: int) -> list[list[int]]:
    """Every page of ``/items`` by ``sort``, as ids, following next_cursor to the end."""
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get("/api/v1/items", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


def forged(payload: object) -> str:
    """A cursor-looking string carrying ``payload`` (as the kit would encode it)."""
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- cursors -------------------------------------------------------------------------------


def test_a_cursor_round_trips_its_values() -> None:
    assert BY_NAME.decode(BY_NAME.encode(["Login works", 12])) == ["Login works", 12]


def test_a_cursor_round_trips_an_aware_timestamp() -> None:
    moment = datetime(2025, 9, 10, 9, 21, 56, 123456, tzinfo=UTC)

    assert BY_RECENT.decode(BY_RECENT.encode([moment, 3])) == [moment, 3]


def test_a_cursor_is_url_safe_text_without_padding() -> None:
    cursor = BY_NAME.encode(["a name with spaces, ünïcode and ?&= signs", 2**31 - 1])

    assert cursor.replace("-", "").replace("_", "").isalnum()
    assert cursor.isascii()
    assert "=" not in cursor


@pytest.mark.parametrize(
    "garbled",
    [
        "not a cursor!",
        "%%%%",
        "YQ",  # base64 of "a": not JSON
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        forged([1, 2]),
        forged({"o": "name"}),
        forged({"o": "name", "k": "Login"}),
        forged({"o": "name", "k": ["Login"]}),
        forged({"o": "name", "k": ["Login", 1, 2]}),
    ],
    ids=[
        "punctuation",
        "percent-signs",
        "not-json",
        "not-utf8",
        "json-list",
        "no-key",
        "key-not-a-list",
        "too-few-values",
        "too-many-values",
    ],
)
def test_a_garbled_cursor_is_invalid(garbled: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        BY_NAME.decode(garbled)

    assert isinstance(raised.value, InvalidRequest)
    assert raised.value.status_code == 422
    assert raised.value.code == "invalid_cursor"
    assert raised.value.errors is not None
    assert [error.loc for error in raised.value.errors] == [["query", "cursor"]]


def test_a_cursor_for_another_ordering_is_invalid() -> None:
    by_name = BY_NAME.encode(["Login", 1])

    with pytest.raises(InvalidCursor, match="another ordering than 'id'"):
        BY_ID.decode(by_name)


@pytest.mark.parametrize(
    ("keyset", "values"),
    [
        (BY_NAME, [1, 2]),
        (BY_NAME, ["Login", "2"]),
        (BY_NAME, ["Login", True]),
        (BY_NAME, ["Login", 1.5]),
        (BY_NAME, ["Login", None]),
        (BY_NAME, [None, 2]),
        (BY_NAME, [["Login"], 2]),
        (BY_NAME, ["Log\x00in", 2]),
        (BY_RECENT, ["yesterday", 2]),
        (BY_RECENT, [1757495000, 2]),
        (BY_RECENT, [None, 2]),
        (BY_RECENT, [{"at": "2025-09-10"}, 2]),
        (BY_RECENT, ["9999-12-31T23:59:59-05:00", 2]),
        (BY_RECENT, ["0001-01-01T00:00:00+05:00", 2]),
        (BY_ID, [2**31]),
        (BY_ID, [-(2**31) - 1]),
    ],
    ids=[
        "number-for-text",
        "text-for-integer",
        "boolean-for-integer",
        "float-for-integer",
        "null-for-integer",
        "null-for-text",
        "list-for-text",
        "nul-in-text",
        "words-for-timestamp",
        "number-for-timestamp",
        "null-for-timestamp",
        "object-for-timestamp",
        "timestamp-after-year-9999-in-utc",
        "timestamp-before-year-1-in-utc",
        "integer-above-32-bits",
        "integer-below-32-bits",
    ],
)
def test_a_cursor_with_values_of_the_wrong_type_is_invalid(
    keyset: Keyset, values: list[Any]
) -> None:
    with pytest.raises(InvalidCursor):
        keyset.decode(forged({"o": keyset.name, "k": values}))


# --- pages ---------------------------------------------------------------------------------


def test_page_returns_no_next_cursor_on_the_last_page() -> None:
    rows = [(1, "a"), (2, "b")]

    assert BY_ID.page(rows, limit=2, key=lambda row: [row[0]]) == (rows, None)
    assert BY_ID.page(rows, limit=5, key=lambda row: [row[0]]) == (rows, None)
    assert BY_ID.page([], limit=5, key=lambda row: [row[0]]) == ([], None)


def test_page_returns_the_cursor_of_its_last_row_when_more_rows_follow() -> None:
    rows = [(1, "a"), (2, "b"), (3, "c")]

    page, next_cursor = BY_ID.page(rows, limit=2, key=lambda row: [row[0]])

    assert page == rows[:2]
    assert next_cursor is not None
    assert BY_ID.decode(next_cursor) == [2]


async def test_walking_the_pages_by_name_visits_every_row_once_in_order(
    database: Database, client: httpx.AsyncClient
) -> None:
    names = ["delta", "alpha", "charlie", "alpha", "bravo", "echo", "alpha"]
    await add_items(
        database, *({"id": i, "name": n, "updated_at": T0} for i, n in enumerate(names, 1))
    )

    pages = await walk(client, "name", limit=3)

    assert pages == [[2, 4, 7], [5, 3, 1], [6]]


async def test_walking_the_pages_newest_first_breaks_timestamp_ties_by_id(
    database: Database, client: httpx.AsyncClient
) -> None:
    await add_items(
        database,
        {"id": 1, "name": "a", "updated_at": T0},
        {"id": 2, "name": "b", "updated_at": T0 + timedelta(minutes=5)},
        {"id": 3, "name": "c", "updated_at": T0 + timedelta(minutes=5)},
        {"id": 4, "name": "d", "updated_at": T0 + timedelta(microseconds=1)},
        {"id": 5, "name": "e", "updated_at": T0 + timedelta(minutes=5)},
        {"id": 6, "name": "f", "updated_at": T0 - timedelta(days=1)},
    )

    pages = await walk(client, "recent", limit=2)

    assert pages == [[5, 3], [2, 4], [1, 6]]


async def test_a_full_last_page_is_followed_by_no_cursor(
    database: Database, client: httpx.AsyncClient
) -> None:
    await add_items(database, *({"id": i, "name": "x", "updated_at": T0} for i in range(1, 5)))

    pages = await walk(client, "id", limit=2)

    assert pages == [[1, 2], [3, 4]]


async def test_an_empty_collection_is_one_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items")

    assert response.json() == {"items": [], "next_cursor": None}


async def test_pages_are_stable_under_concurrent_inserts(
    database: Database, client: httpx.AsyncClient
) -> None:
    await add_items(database, *({"id": i, "name": "x", "updated_at": T0} for i in (10, 20, 30)))
    first = (await client.get("/api/v1/items", params={"limit": 2})).json()

    await add_items(database, {"id": 5, "name": "x", "updated_at": T0})
    second = await client.get("/api/v1/items", params={"limit": 2, "cursor": first["next_cursor"]})

    assert [item["id"] for item in first["items"]] == [10, 20]
    assert [item["id"] for item in second.json()["items"]] == [30]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("id", "garbage"),
        ("id", BY_NAME.encode(["alpha", 1])),
        ("recent", forged({"o": "recent", "k": [1757495000, 2]})),
        ("id", forged({"o": "id", "k": [2**70]})),
        ("id", forged({"o": "id", "k": [2**31]})),
        ("recent", forged({"o": "recent", "k": ["9999-12-31T23:59:59-05:00", 1]})),
        ("name", forged({"o": "name", "k": ["a\x00", 1]})),
    ],
    ids=[
        "garbled",
        "another-ordering",
        "number-for-timestamp",
        "huge-integer",
        "integer-above-32-bits",
        "timestamp-out-of-range-in-utc",
        "nul-in-text",
    ],
)
async def test_an_invalid_cursor_is_answered_422_invalid_cursor(
    client: httpx.AsyncClient, sort: str, cursor: str
) -> None:
    response = await client.get("/api/v1/items", params={"sort": sort, "cursor": cursor})

    body = assert_problem(response, 422, "invalid_cursor")
    assert body["errors"][0]["loc"] == ["query", "cursor"]
    assert "Start again without a cursor" in body["detail"]
