"""The catalog's migration chain, run by the kit: it agrees with the models and runs both ways.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from testops_catalog.main import MIGRATIONS
from testops_catalog.models import Base
from testops_kit.database import Database, utcnow
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade

# SQLAlchemy cannot reflect expression indexes on SQLite, and SQLAlchemy and Alembic both say so;
# that index is checked by the tests at the end of this file instead.
EXPECTED_WARNING = re.compile(
    r"expression-based index "
    r"'?(uq_suites_sibling_name_active|ix_(test_cases|suites|tags)_(name|description)_trgm)\b"
)


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("migrations")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def downgrade(database_url: str, revision: str) -> None:
    config = alembic_config(MIGRATIONS, database_url)
    await anyio.to_thread.run_sync(command.downgrade, config, revision)


async def table_names(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


def model_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_agrees_with_the_models(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with database.engine.connect() as connection:
            diff = await connection.run_sync(model_diff)

    assert diff == []
    unexpected = [str(w.message) for w in caught if not EXPECTED_WARNING.search(str(w.message))]
    assert unexpected == []


async def test_the_chain_has_a_single_head(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(MIGRATIONS, database_url))

    assert len(script.get_heads()) == 1
    assert script.get_current_head() == head_revision(MIGRATIONS)


async def test_the_chain_upgrades_to_head_and_downgrades_to_base(
    database_url: str, database: Database
) -> None:
    assert await current_revision(database.engine) is None

    await upgrade(MIGRATIONS, database_url)
    assert await current_revision(database.engine) == head_revision(MIGRATIONS)
    assert set(Base.metadata.tables) <= await table_names(database)

    await downgrade(database_url, "base")
    assert await current_revision(database.engine) is None
    assert await table_names(database) == {"alembic_version"}

    await upgrade(MIGRATIONS, database_url)
    assert await current_revision(database.engine) == head_revision(MIGRATIONS)


async def test_every_revision_upgrades_and_downgrades_one_step_at_a_time(
    database_url: str, database: Database
) -> None:
    script = ScriptDirectory.from_config(alembic_config(MIGRATIONS, database_url))
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]

    for revision in revisions:
        await upgrade(MIGRATIONS, database_url, revision)
        assert await current_revision(database.engine) == revision
    for expected in [*reversed(revisions[:-1]), None]:
        await downgrade(database_url, "-1")
        assert await current_revision(database.engine) == expected


async def test_upgrading_a_database_at_head_again_changes_nothing(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)
    tables = await table_names(database)

    await upgrade(MIGRATIONS, database_url)

    assert await current_revision(database.engine) == head_revision(MIGRATIONS)
    assert await table_names(database) == tables


def suite_row(name: str, **fields: Any) -> dict[str, Any]:
    now = utcnow()
    return {"name": name, "version": 1, "created_at": now, "updated_at": now, **fields}


async def test_two_active_root_suites_with_one_name_are_refused_by_the_expression_index(
    database_url: str, database: Database
) -> None:
    suites = Base.metadata.tables["suites"]
    await upgrade(MIGRATIONS, database_url)
    async with database.session(write=True) as session:
        await session.execute(insert(suites).values(suite_row("API")))

    with pytest.raises(IntegrityError):
        async with database.session(write=True) as session:
            await session.execute(insert(suites).values(suite_row("API")))


async def test_the_expression_index_allows_one_name_under_other_parents_and_when_deleted(
    database_url: str, database: Database
) -> None:
    suites = Base.metadata.tables["suites"]
    await upgrade(MIGRATIONS, database_url)

    async with database.session(write=True) as session:
        await session.execute(insert(suites).values(suite_row("API", id=1)))
        await session.execute(insert(suites).values(suite_row("API", id=2, parent_id=1)))
        await session.execute(insert(suites).values(suite_row("Web", id=3)))
        await session.execute(insert(suites).values(suite_row("API", id=4, parent_id=3)))
        await session.execute(insert(suites).values(suite_row("API", id=5, deleted_at=utcnow())))

    with pytest.raises(IntegrityError):
        async with database.session(write=True) as session:
            await session.execute(insert(suites).values(suite_row("API", id=6, parent_id=3)))
