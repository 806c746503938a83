"""The database: hardened SQLite, one unit of work per request, URLs, and UTC timestamps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from testops_kit.database import (
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    SessionDep,
    UTCDateTime,
)
from testops_kit.database_urls import normalize_database_url, redact_database_url
from testops_kit.errors import Conflict
from testops_kit.testing import app_client, assert_problem, wait_for

metadata = MetaData()
folders = Table("folders", metadata, Column("id", Integer, primary_key=True))
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(100), nullable=False),
    Column("folder_id", ForeignKey("folders.id")),
)
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
)


class NoteIn(BaseModel):
    body: str


router = APIRouter()


@router.post("/notes", status_code=201)
async def create_note(note: NoteIn, session: SessionDep) -> dict[str, int]:
    """Write a note and say how many notes this transaction sees, its own included."""
    await session.execute(insert(notes).values(body=note.body))
    visible = await session.scalar(select(func.count()).select_from(notes))
    return {"visible": visible or 0}


@router.post("/notes/refused")
async def write_then_refuse(note: NoteIn, session: SessionDep) -> None:
    await session.execute(insert(notes).values(body=note.body))
    await session.flush()
    raise Conflict("Refused after writing.")


@router.post("/notes/crash")
async def write_then_crash(note: NoteIn, session: SessionDep) -> None:
    await session.execute(insert(notes).values(body=note.body))
    await session.flush()
    raise RuntimeError("crashed after writing")


@router.get("/notes")
async def list_notes(session: SessionDep) -> list[str]:
    return list(await session.scalars(select(notes.c.body).order_by(notes.c.id)))


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("kitdb")


@pytest.fixture
def sqlite_path(database_url: str, database_backend: str) -> str:
    """The file of this test's database; the test only makes sense on SQLite."""
    if database_backend != "sqlite":
        pytest.skip("SQLite behaviour")
    path = make_url(database_url).database
    assert path
    return path


@pytest.fixture
def busy_timeout_ms() -> int:
    """How long the app's SQLite writers wait for the lock (a test may parametrize it)."""
    return SQLITE_BUSY_TIMEOUT_MS


@pytest.fixture
def app(build_app: Callable[..., FastAPI], database_url: str, busy_timeout_ms: int) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url, busy_timeout_ms=busy_timeout_ms)
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        app.state.database = database
        try:
            yield
        finally:
            await database.dispose()

    return build_app(router, lifespan=lifespan)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The kit's database on a fresh database of the session's backend, with the test tables."""
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


def record_begins(database: Database) -> list[str]:
    """The BEGIN statements the database's connections send from now on, in order."""
    begins: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    return begins


# --- SQLite hardening ----------------------------------------------------------------------


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    sqlite_path: str, database: Database
) -> None:
    async with database.engine.connect() as connection:
        journal_mode = await connection.exec_driver_sql("PRAGMA journal_mode")
        foreign_keys = await connection.exec_driver_sql("PRAGMA foreign_keys")
        busy_timeout = await connection.exec_driver_sql("PRAGMA busy_timeout")

        assert journal_mode.scalar() == "wal"
        assert foreign_keys.scalar() == 1
        assert busy_timeout.scalar() == SQLITE_BUSY_TIMEOUT_MS > 0


async def test_a_foreign_key_to_a_missing_row_is_refused(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.session(write=True) as session:
            await session.execute(insert(notes).values(body="orphan", folder_id=404))

    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(notes)) == 0


async def test_a_write_request_begins_immediate_and_a_read_request_deferred(
    sqlite_path: str, app: FastAPI, client: httpx.AsyncClient
) -> None:
    begins = record_begins(app.state.database)

    await client.post("/api/v1/notes", json={"body": "written"})
    await client.get("/api/v1/notes")

    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


async def test_a_second_writer_waits_for_the_first_and_then_succeeds(
    sqlite_path: str, app: FastAPI, client: httpx.AsyncClient
) -> None:
    database: Database = app.state.database
    begins = record_begins(database)
    holding, release = asyncio.Event(), asyncio.Event()

    async def first_writer() -> None:
        async with database.session(write=True) as session:
            await session.execute(insert(notes).values(body="first"))
            holding.set()
            await release.wait()

    first = asyncio.create_task(first_writer())
    await asyncio.wait_for(holding.wait(), timeout=10)
    second = asyncio.create_task(client.post("/api/v1/notes", json={"body": "second"}))

    async def second_is_waiting_for_the_lock() -> bool | None:
        return True if begins.count("BEGIN IMMEDIATE") >= 2 else None

    await wait_for(second_is_waiting_for_the_lock)
    assert not second.done()
    release.set()
    await asyncio.wait_for(first, timeout=10)
    response = await asyncio.wait_for(second, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)

    assert response.status_code == 201, response.text
    assert response.json() == {"visible": 2}
    assert (await client.get("/api/v1/notes")).json() == ["first", "second"]


async def test_a_reader_is_not_blocked_by_a_writer_holding_an_exclusive_lock(
    sqlite_path: str, client: httpx.AsyncClient
) -> None:
    await client.post("/api/v1/notes", json={"body": "committed"})
    async with aiosqlite.connect(sqlite_path, isolation_level=None) as locker:
        await locker.execute("BEGIN EXCLUSIVE")
        await locker.execute("INSERT INTO notes (body) VALUES ('uncommitted')")

        response = await client.get("/api/v1/notes")

        await locker.execute("ROLLBACK")
    assert response.status_code == 200
    assert response.json() == ["committed"]


@pytest.mark.parametrize("busy_timeout_ms", [200])
async def test_a_locked_database_answers_503_database_busy_with_retry_after(
    sqlite_path: str, client: httpx.AsyncClient
) -> None:
    async with aiosqlite.connect(sqlite_path, isolation_level=None) as locker:
        await locker.execute("BEGIN EXCLUSIVE")

        response = await client.post("/api/v1/notes", json={"body": "too late"})

        await locker.execute("ROLLBACK")
    body = assert_problem(response, 503, "database_busy")
    assert body["title"] == "Database busy"
    assert response.headers["Retry-After"] == "1"
    assert (await client.get("/api/v1/notes")).json() == []
    retry = await client.post("/api/v1/notes", json={"body": "in time"})
    assert retry.status_code == 201, retry.text


# --- one unit of work per request ----------------------------------------------------------


async def test_a_write_request_is_committed_before_it_answers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/notes", json={"body": "kept"})

    assert response.status_code == 201
    assert (await client.get("/api/v1/notes")).json() == ["kept"]


async def test_a_request_that_raises_our_error_rolls_back(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/notes/refused", json={"body": "never"})

    assert_problem(response, 409, "conflict")
    assert (await client.get("/api/v1/notes")).json() == []


async def test_a_request_that_crashes_rolls_back(
    app: FastAPI,
    lenient_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]],
) -> None:
    async with lenient_client(app) as client:
        response = await client.post("/api/v1/notes/crash", json={"body": "never"})
        listing = await client.get("/api/v1/notes")

    assert_problem(response, 500, "internal_error")
    assert listing.json() == []


async def test_an_unopenable_sqlite_database_answers_503_database_unavailable(
    build_app: Callable[..., FastAPI], tmp_path: Path, database_backend: str
) -> None:
    if database_backend != "sqlite":
        pytest.skip("SQLite behaviour")
    not_a_file = tmp_path / "a-folder.db"
    not_a_file.mkdir()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(f"sqlite:///{not_a_file}")
        yield
        await app.state.database.dispose()

    async with app_client(build_app(router, lifespan=lifespan)) as client:
        response = await client.get("/api/v1/notes")

    assert_problem(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"


async def test_an_unreachable_postgresql_server_answers_503_database_unavailable(
    build_app: Callable[..., FastAPI],
    lenient_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]],
) -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database("postgresql://nobody@127.0.0.1:1/nothing")
        yield
        await app.state.database.dispose()

    async with lenient_client(build_app(router, lifespan=lifespan)) as client:
        response = await client.get("/api/v1/notes")

    assert_problem(response, 503, "database_unavailable")


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("postgresql://u:p@db:5432/catalog", "postgresql+asyncpg://u:p@db:5432/catalog"),
        ("postgres://u:p@db:5432/catalog", "postgresql+asyncpg://u:p@db:5432/catalog"),
        ("postgresql+psycopg://u@db/catalog", "postgresql+asyncpg://u@db/catalog"),
        ("postgresql+asyncpg://u@db/catalog", "postgresql+asyncpg://u@db/catalog"),
        (
            "sqlite:////var/lib/testops/catalog.db",
            "sqlite+aiosqlite:////var/lib/testops/catalog.db",
        ),
        ("sqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalize_database_url_names_the_async_driver(given: str, normalised: str) -> None:
    assert normalize_database_url(given) == normalised


def test_normalize_database_url_keeps_a_password_with_special_characters() -> None:
    url = "postgresql://user:p%40ss%2Fword@db/catalog"

    assert normalize_database_url(url) == "postgresql+asyncpg://user:p%40ss%2Fword@db/catalog"
    assert make_url(normalize_database_url(url)).password == "p@ss/word"


@pytest.mark.parametrize(
    "unsupported", ["mysql://u:p@db/catalog", "mysql+aiomysql://u@db/x", "oracle://db/x"]
)
def test_normalize_database_url_refuses_other_backends(unsupported: str) -> None:
    with pytest.raises(ValueError, match="unsupported database backend"):
        normalize_database_url(unsupported)


def test_redact_database_url_hides_the_password() -> None:
    redacted = redact_database_url("postgresql+asyncpg://app:hunter2@db/catalog")

    assert "hunter2" not in redacted
    assert redacted == "postgresql+asyncpg://app:***@db/catalog"


# --- UTC timestamps ------------------------------------------------------------------------


async def test_utc_datetime_round_trips_an_aware_timestamp_as_utc(database: Database) -> None:
    paris_summer = timezone(timedelta(hours=2))
    written = datetime(2025, 9, 10, 11, 21, 56, 123456, tzinfo=paris_summer)

    async with database.session(write=True) as session:
        await session.execute(insert(moments).values(id=1, at=written))
    async with database.session() as session:
        read = await session.scalar(select(moments.c.at).where(moments.c.id == 1))

    assert read == written
    assert read is not None
    assert read.utcoffset() == timedelta(0)
    assert read == datetime(2025, 9, 10, 9, 21, 56, 123456, tzinfo=UTC)


async def test_utc_datetime_reads_a_naive_timestamp_as_utc(database: Database) -> None:
    async with database.session(write=True) as session:
        await session.execute(insert(moments).values(id=1, at=datetime(2025, 1, 2, 3, 4, 5)))
    async with database.session() as session:
        read = await session.scalar(select(moments.c.at).where(moments.c.id == 1))

    assert read == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_utc_datetime_keeps_null(database: Database) -> None:
    async with database.session(write=True) as session:
        await session.execute(insert(moments).values(id=1, at=None))
    async with database.session() as session:
        row = (await session.execute(select(moments.c.at).where(moments.c.id == 1))).one()

    assert row.at is None


async def test_utc_datetimes_with_different_offsets_sort_and_compare_chronologically(
    database: Database,
) -> None:
    early = datetime(2025, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=5)))  # 05:00 UTC
    late = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
    later = datetime(2025, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=-4)))  # 07:00 UTC

    async with database.session(write=True) as session:
        await session.execute(
            insert(moments), [{"id": 1, "at": later}, {"id": 2, "at": early}, {"id": 3, "at": late}]
        )
    async with database.session() as session:
        ordered = list(await session.scalars(select(moments.c.id).order_by(moments.c.at)))
        after_six = list(
            await session.scalars(
                select(moments.c.id).where(moments.c.at > datetime(2025, 1, 1, 6, 0, tzinfo=UTC))
            )
        )

    assert ordered == [2, 3, 1]
    assert after_six == [1]
