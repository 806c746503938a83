"""The results service's migration chain agrees with its models and runs both ways.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import JSON, Boolean, column, insert, inspect, table, text
from sqlalchemy.engine import Connection
from tests.results.results_api import API, admin_of, every_item, new_project_key

from testops_kit.database import Database, UTCDateTime
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_kit.testing import app_client, assert_problem
from testops_results.main import MIGRATIONS, create_app
from testops_results.models import Base, LabelKeys
from testops_results.settings import ResultsSettings

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


# The tables as revision 0003 left them, before projects: the columns an insert needs.
OLD_RESULTS = table(
    "test_results",
    *(column(name) for name in ("id", "run_id", "uuid", "history_id", "name", "full_name")),
    *(column(name) for name in ("status", "document")),
    *(column(name, Boolean()) for name in ("flaky", "muted", "known", "is_retry")),
    column("label_keys", LabelKeys),
)
OLD_CONTAINERS = table("containers", *(column(n) for n in ("id", "run_id", "uuid", "document")))
OLD_CHILDREN = table(
    "container_children", *(column(n) for n in ("container_id", "result_uuid", "run_id"))
)
OLD_ATTACHMENTS = table(
    "attachments",
    *(column(n) for n in ("id", "run_id", "source", "name", "content_type", "size", "sha256")),
    column("created_at", UTCDateTime(timezone=True)),
)
OLD_UPLOADS = table(
    "run_uploads",
    *(column(n) for n in ("id", "run_id", "upload_id", "object_key", "files")),
    column("created_at", UTCDateTime(timezone=True)),
)
TEST_HISTORY_ID = "a1b2c3.d4e5f6"


async def fill_at_0003(database: Database) -> None:
    """Two runs of the same name with a result each (one test), a container, an attachment,
    an upload and a report build: what a data folder made before projects holds."""
    now = datetime(2026, 11, 30, 10, tzinfo=UTC)
    async with database.engine.begin() as connection:
        for run_id, status in ((1, "passed"), (2, "failed")):
            await connection.execute(
                insert(OLD_RUNS).values(
                    id=run_id,
                    name="nightly",
                    status=status,
                    source="upload",
                    environment={},
                    warnings=[],
                    created_at=now,
                    updated_at=now,
                    **{**dict.fromkeys(COUNTS, 0), "total": 1, status: 1},
                )
            )
            await connection.execute(
                insert(OLD_RESULTS).values(
                    id=run_id * 10,
                    run_id=run_id,
                    uuid=f"result-{run_id}",
                    history_id=TEST_HISTORY_ID,
                    name="test_login",
                    full_name="tests.test_app#test_login",
                    status=status,
                    document=json.dumps({"name": "test_login", "status": status}),
                    flaky=False,
                    muted=False,
                    known=False,
                    is_retry=False,
                    label_keys=["suite:app"],
                )
            )
            await connection.execute(
                insert(OLD_CONTAINERS).values(
                    id=run_id, run_id=run_id, uuid=f"container-{run_id}", document="{}"
                )
            )
            await connection.execute(
                insert(OLD_CHILDREN).values(
                    container_id=run_id, result_uuid=f"result-{run_id}", run_id=run_id
                )
            )
            await connection.execute(
                insert(OLD_ATTACHMENTS).values(
                    id=run_id,
                    run_id=run_id,
                    source=f"log-{run_id}.txt",
                    name="log",
                    content_type="text/plain",
                    size=3,
                    sha256="0" * 64,
                    created_at=now,
                )
            )
            await connection.execute(
                insert(OLD_UPLOADS).values(
                    id=run_id,
                    run_id=run_id,
                    upload_id=f"upload{run_id}",
                    object_key=f"uploads/upload{run_id}.jsonl.gz",
                    files=2,
                    created_at=now,
                )
            )
        await connection.execute(
            insert(OLD_BUILDS).values(
                run_id=2,
                build_key="b" * 32,
                status="failed",
                attempts=1,
                uploads=1,
                history_runs=1,
                files=0,
                created_at=now,
            )
        )
        await connection.execute(
            text(
                "UPDATE report_builds SET error_code = 'allure_cli_failed', error = 'boom' "
                "WHERE run_id = 2"
            )
        )


async def row_counts(database: Database) -> dict[str, int]:
    tables = (
        "runs",
        "test_results",
        "containers",
        "container_children",
        "attachments",
        "run_uploads",
        "report_builds",
    )
    async with database.engine.connect() as connection:
        return {
            name: (await connection.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one()
            for name in tables
        }


async def test_an_upgrade_puts_every_run_and_result_in_the_default_project_and_loses_nothing(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0003")
    await fill_at_0003(database)
    before = await row_counts(database)

    await upgrade(MIGRATIONS, database_url)

    assert await row_counts(database) == before
    async with database.engine.connect() as connection:
        runs = (await connection.execute(text("SELECT DISTINCT project FROM runs"))).all()
        results = (
            await connection.execute(text("SELECT DISTINCT project FROM test_results"))
        ).all()
    assert [tuple(row) for row in runs] == [("DEFAULT",)]
    assert [tuple(row) for row in results] == [("DEFAULT",)]


@pytest.fixture
def upgraded_app(
    database_url: str, results_settings_factory: Callable[..., ResultsSettings]
) -> FastAPI:
    """A results app on a database filled at revision 0003 (it migrates it as it starts)."""
    return create_app(results_settings_factory("results-upgraded", database_url=database_url))


async def test_what_an_upgrade_kept_is_read_in_the_default_project_and_nowhere_else(
    database_url: str, database: Database, upgraded_app: FastAPI
) -> None:
    await upgrade(MIGRATIONS, database_url, "0003")
    await fill_at_0003(database)

    async with app_client(upgraded_app) as client:
        run = (await client.get(f"{API}/runs/2")).json()
        listed = await every_item(client, f"{API}/runs")
        history = await every_item(client, f"{API}/tests/{TEST_HISTORY_ID}/history")
        results = await every_item(client, f"{API}/runs/2/results")
        result = await client.get(f"{API}/results/20")
        attachments = await every_item(client, f"{API}/projects/DEFAULT/runs/2/attachments")
        report = (await client.get(f"{API}/runs/2/report")).json()
        trends = (await client.get(f"{API}/analytics/trends", params={"name": "nightly"})).json()
    async with app_client(upgraded_app, principal=admin_of(new_project_key())) as elsewhere:
        hidden = await elsewhere.get(f"{API}/runs/2")
        nothing = await every_item(elsewhere, f"{API}/runs")

    assert run["status"] == "failed"
    assert [r["id"] for r in listed] == [2, 1]
    assert [(h["run_id"], h["status"]) for h in history] == [(2, "failed"), (1, "passed")]
    assert [r["id"] for r in results] == [20]
    assert result.status_code == 200, result.text
    assert [a["source"] for a in attachments] == ["log-2.txt"]
    assert report["status"] == "failed"
    assert [point["id"] for point in trends["items"]] == [1, 2]
    assert_problem(hidden, 404, "run_not_found")
    assert nothing == []
