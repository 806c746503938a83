"""The results service's migration chain agrees with its models and runs both ways.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from testops_kit.database import Database
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_results.main import MIGRATIONS
from testops_results.models import Base


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("results_migrations")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def _on_this_dialect(dialect: str) -> Callable[..., bool]:
    """Leave out indexes made only on another dialect (`Index(...).ddl_if(dialect=...)`)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    return include


def model_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _on_this_dialect(connection.dialect.name),
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def table_names(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


async def test_the_migrated_schema_agrees_with_the_models(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(model_diff)

    assert diff == []
    assert await current_revision(database.engine) == head_revision(MIGRATIONS)


async def test_the_chain_downgrades_to_nothing_and_upgrades_again(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)
    config = alembic_config(MIGRATIONS, database_url)

    await anyio.to_thread.run_sync(command.downgrade, config, "base")
    assert await table_names(database) <= {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    assert set(Base.metadata.tables) <= await table_names(database)
