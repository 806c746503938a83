"""The results service's migration chain agrees with its models and runs both ways.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, column, insert, inspect, table, text
from sqlalchemy.engine import Connection

from testops_kit.database import Database, UTCDateTime
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_results.main import MIGRATIONS
from testops_results.models import Base

COUNTS = ("total", "passed", "failed", "broken", "skipped", "unknown", "retries", "retry_attempts")


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


# The tables as revision 0002 left them: the columns an insert needs.
OLD_RUNS = table(
    "runs",
    *(column(name) for name in ("id", "name", "status", "source")),
    *(column(name) for name in COUNTS),
    column("environment", JSON()),
    column("warnings", JSON()),
    column("created_at", UTCDateTime(timezone=True)),
    column("updated_at", UTCDateTime(timezone=True)),
)
OLD_BUILDS = table(
    "report_builds",
    *(column(name) for name in ("run_id", "build_key", "status", "attempts", "uploads")),
    column("history_runs"),
    column("files"),
    column("created_at", UTCDateTime(timezone=True)),
)


async def test_a_report_ready_before_0003_is_the_one_served_after_it(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0002")
    now = datetime(2026, 11, 21, 10, tzinfo=UTC)
    async with database.engine.begin() as connection:
        for run_id, status in ((1, "ready"), (2, "failed"), (3, "building")):
            await connection.execute(
                insert(OLD_RUNS).values(
                    id=run_id,
                    name="nightly",
                    status="passed",
                    source="upload",
                    environment={},
                    warnings=[],
                    created_at=now,
                    updated_at=now,
                    **dict.fromkeys(COUNTS, 0),
                )
            )
            await connection.execute(
                insert(OLD_BUILDS).values(
                    run_id=run_id,
                    build_key=status * 4,
                    status=status,
                    attempts=1,
                    uploads=1,
                    history_runs=0,
                    files=0,
                    created_at=now,
                )
            )

    await upgrade(MIGRATIONS, database_url)

    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT run_id, served_key FROM report_builds ORDER BY run_id")
        )
        served = [tuple(row) for row in rows]
    assert served == [(1, "readyreadyreadyready"), (2, None), (3, None)]
