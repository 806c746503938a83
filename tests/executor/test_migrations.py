"""The executor's migration chain agrees with its models and runs both ways; executions made
before projects land in the default project with their logs.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from testops_executor.main import MIGRATIONS
from testops_executor.models import Base
from testops_kit.database import Database, UTCDateTime, utcnow
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_kit.projects import DEFAULT_PROJECT

# The tables as revision 0001 made them (no project).
EXECUTIONS_0001 = sa.table(
    "executions",
    sa.column("id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("repo_url", sa.Text()),
    sa.column("suite_name", sa.Text()),
    sa.column("suite_params", sa.JSON()),
    sa.column("run_name", sa.String()),
    sa.column("timeout_s", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("log_size", sa.BigInteger()),
    sa.column("log_truncated", sa.Boolean()),
    sa.column("cancel_requested", sa.Boolean()),
)
LOG_CHUNKS = sa.table(
    "log_chunks",
    sa.column("execution_id", sa.String()),
    sa.column("offset", sa.BigInteger()),
    sa.column("data", sa.LargeBinary()),
)
EXECUTIONS = sa.table(
    "executions",
    sa.column("id", sa.String()),
    sa.column("project", sa.String()),
    sa.column("created_by", sa.String()),
)


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("executor_migrations")


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


def model_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


def execution_row(execution_id: str, *, minutes_ago: int) -> dict[str, Any]:
    return {
        "id": execution_id,
        "status": "completed",
        "repo_url": "https://git.example.com/team/app.git",
        "suite_name": "tests/",
        "suite_params": {},
        "run_name": "app main",
        "timeout_s": 3600,
        "created_at": utcnow() - timedelta(minutes=minutes_ago),
        "log_size": 10,
        "log_truncated": False,
        "cancel_requested": False,
    }


async def insert_before_projects(database: Database, ids: list[str]) -> None:
    """Executions, each with a log of two chunks, as revision 0001 holds them."""
    async with database.session(write=True) as session:
        for index, execution_id in enumerate(ids):
            await session.execute(
                sa.insert(EXECUTIONS_0001).values(execution_row(execution_id, minutes_ago=index))
            )
            await session.execute(
                sa.insert(LOG_CHUNKS).values(
                    [
                        {"execution_id": execution_id, "offset": 0, "data": b"hello"},
                        {"execution_id": execution_id, "offset": 5, "data": b"world"},
                    ]
                )
            )


async def logs(database: Database) -> dict[str, bytes]:
    async with database.session() as session:
        rows = (
            await session.execute(
                sa.select(LOG_CHUNKS.c.execution_id, LOG_CHUNKS.c.data).order_by(
                    LOG_CHUNKS.c.execution_id, LOG_CHUNKS.c.offset
                )
            )
        ).all()
    joined: dict[str, bytes] = {}
    for execution_id, data in rows:
        joined[execution_id] = joined.get(execution_id, b"") + data
    return joined


async def test_the_migrated_schema_agrees_with_the_models(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url)

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(model_diff)

    assert diff == []


async def test_executions_made_before_projects_are_in_the_default_project_with_their_logs(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0001")
    ids = ["8c1d5e2a-0000-4000-8000-000000000001", "8c1d5e2a-0000-4000-8000-000000000002"]
    await insert_before_projects(database, ids)

    await upgrade(MIGRATIONS, database_url)

    async with database.session() as session:
        rows = (await session.execute(sa.select(EXECUTIONS).order_by(EXECUTIONS.c.id))).all()
    assert [tuple(row) for row in rows] == [(i, DEFAULT_PROJECT, None) for i in ids]
    assert await logs(database) == {i: b"helloworld" for i in ids}


async def test_the_chain_downgrades_and_upgrades_again_keeping_the_logs(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0001")
    ids = ["8c1d5e2a-0000-4000-8000-000000000003"]
    await insert_before_projects(database, ids)
    await upgrade(MIGRATIONS, database_url)

    await downgrade(database_url, "0001")

    assert await current_revision(database.engine) == "0001"
    assert await logs(database) == {ids[0]: b"helloworld"}
    await upgrade(MIGRATIONS, database_url)
    assert await current_revision(database.engine) == head_revision(MIGRATIONS)
    assert await logs(database) == {ids[0]: b"helloworld"}
    await downgrade(database_url, "base")
    assert await current_revision(database.engine) is None
