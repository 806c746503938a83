"""Alembic, run the same way by every service: at start-up, as a deploy step, and in tests.

A service's ``migrations/env.py`` is two lines::

    from testops_kit.migrations import run_env
    run_env(Base.metadata, default_url=lambda: CatalogSettings().resolved_database_url)

and :func:`upgrade` applies its chain to a database::

    await upgrade(CATALOG_MIGRATIONS, settings.resolved_database_url)
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from pathlib import Path

import anyio
from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from testops_kit.database import create_engine
from testops_kit.database_urls import normalize_database_url, redact_database_url
from testops_kit.logging import get_logger

log = get_logger(__name__)


def alembic_config(script_location: Path, database_url: str | None = None) -> Config:
    """An Alembic config for a service's chain, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    if database_url is not None:
        config.attributes["database_url"] = normalize_database_url(database_url)
    return config


def upgrade_sync(script_location: Path, database_url: str, revision: str = "head") -> None:
    """Apply the chain up to ``revision`` (blocking: call it off the event loop)."""
    command.upgrade(alembic_config(script_location, database_url), revision)


async def upgrade(script_location: Path, database_url: str, revision: str = "head") -> None:
    """Apply the chain up to ``revision`` in a worker thread."""
    log.info("migrating", database=redact_database_url(database_url), revision=revision)
    await anyio.to_thread.run_sync(upgrade_sync, script_location, database_url, revision)


def head_revision(script_location: Path) -> str | None:
    """The newest revision of the chain."""
    return ScriptDirectory.from_config(alembic_config(script_location)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    async with engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except ProgrammingError:  # no alembic_version table: never migrated
            return None
        except OperationalError as exc:  # SQLite says "no such table" this way
            if "no such table" in str(exc.orig):
                return None
            raise
        return result.scalars().first()


def _lock_key(metadata: MetaData) -> int:
    names = ",".join(sorted(metadata.tables))
    return zlib.crc32(names.encode()) & 0x7FFFFFFF


def _run_migrations(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        # Replicas that all migrate on start take turns instead of racing each other.
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key(metadata)})
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgres:
            connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(metadata)}
            )


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData, *, default_url: Callable[[], str]) -> None:
    """The body of a service's ``env.py``: offline SQL or an online upgrade."""
    config = context.config
    url: str = config.attributes.get("database_url") or normalize_database_url(default_url())
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))
