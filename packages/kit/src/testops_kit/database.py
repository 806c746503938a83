"""The database: one async engine per process, one session per request.

SQLite and PostgreSQL are both first-class. What differs between them lives here and in
:mod:`testops_kit.dialects`:

* SQLite connections are hardened on connect (WAL, foreign keys, busy timeout) and take the
  write lock up front (``BEGIN IMMEDIATE``) for requests that write, so two writers queue on the
  busy timeout instead of failing half-way with "database is locked".
* PostgreSQL URLs may be given as ``postgresql://``; the asyncpg driver is filled in.

In an endpoint, take the session as a dependency; it commits after the endpoint returns and
rolls back when anything raises::

    @router.post("/things")
    async def create_thing(session: SessionDep) -> Thing: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from testops_kit.database_urls import normalize_database_url
from testops_kit.errors import DatabaseUnavailable, is_sqlite_lock

SQLITE_BUSY_TIMEOUT_MS = 10_000
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BEGIN_OPTION = "testops_sqlite_begin"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps text without an offset, which this type
    normalises to UTC on the way in and marks as UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _harden_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to emit (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only; PostgreSQL folds every letter. Case-insensitive
        # search must find "Übersicht" for "übersicht" on both.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    null_pool: bool = False,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> AsyncEngine:
    """An async engine for ``url``, hardened when it is SQLite.

    ``busy_timeout_ms`` is how long a SQLite writer waits for the lock before the request is
    answered 503 ``database_busy``.
    """
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if null_pool:
        kwargs["poolclass"] = NullPool
    elif parsed.get_backend_name() == "postgresql":
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _harden_sqlite(engine, busy_timeout_ms)
    return engine


class Database:
    """The engine and session factory of one process."""

    def __init__(
        self, url: str, *, pool_size: int = 10, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS
    ) -> None:
        self.url = normalize_database_url(url)
        self.engine = create_engine(self.url, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back when it raises.

        ``write=True`` takes SQLite's write lock when the transaction begins, so a writer waits
        for the lock at its start rather than failing when it first writes.
        """
        async with self.sessionmaker() as session:
            await self._connect(session, write=write)
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def _connect(self, session: AsyncSession, *, write: bool) -> None:
        """Take the session's connection now, so that a database that cannot be reached is
        reported as such (503 ``database_unavailable``) rather than as whatever the driver raised.
        """
        options = {_BEGIN_OPTION: "IMMEDIATE"} if write and self.dialect == "sqlite" else {}
        try:
            await session.connection(execution_options=options)
        except OperationalError as exc:
            if is_sqlite_lock(exc):
                raise  # rendered as 503 database_busy
            raise DatabaseUnavailable("The database cannot be reached; try again shortly.") from exc
        except (OSError, DBAPIError) as exc:
            raise DatabaseUnavailable("The database cannot be reached; try again shortly.") from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.session(write=request.method not in _SAFE_METHODS) as session:
        yield session


# scope="function": commit runs when the endpoint returns, before the response is sent, so a
# failed commit reaches the client as an error rather than after a success was reported.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


# Constraint names that are the same on every dialect, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
