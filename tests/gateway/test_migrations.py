"""The gateway's identity database: its migration chain agrees with its models, runs both ways,
and gives a new database the project every request without one acts in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

import testops_gateway
from testops_gateway.models import Base, Project
from testops_kit.database import Database
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_kit.projects import DEFAULT_PROJECT

MIGRATIONS = Path(testops_gateway.__file__).parent / "migrations"


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("gateway_migrations")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def model_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
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


async def test_a_new_database_has_the_default_project(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)

    async with database.session() as session:
        keys = (await session.scalars(select(Project.key))).all()

    assert keys == [DEFAULT_PROJECT]


async def test_the_chain_downgrades_to_nothing_and_upgrades_again(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)
    config = alembic_config(MIGRATIONS, database_url)

    await anyio.to_thread.run_sync(command.downgrade, config, "base")
    assert await table_names(database) <= {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    assert set(Base.metadata.tables) <= await table_names(database)
