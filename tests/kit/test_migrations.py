"""The catalog's migration chain, run by the kit: it agrees with the models and runs both ways.

This runs on the session's backend; CI runs the suite on SQLite and on PostgreSQL, so the models
and the migrations are checked against each other on both dialects.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from testops_catalog.main import MIGRATIONS, create_app
from testops_catalog.models import Base
from testops_catalog.settings import CatalogSettings
from testops_kit.database import Database, utcnow
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_kit.testing import app_client, principal_settings

# SQLAlchemy cannot reflect expression indexes on SQLite, and SQLAlchemy and Alembic both say so;
# that index is checked by the tests at the end of this file instead.
EXPECTED_WARNING = re.compile(
    r"expression-based index '?(uq_suites_project_sibling_name_active"
    r"|ix_(test_cases|suites|tags)_(name|description)_trgm)\b"
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
    return {
        "project": "DEFAULT",
        "name": name,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **fields,
    }


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


# The steps table without its attachments, with them as revision 0003 left them (JSON) and as
# 0004 makes them (text).
STEPS = sa.table(
    "test_case_steps",
    sa.column("id", sa.Integer()),
    sa.column("test_case_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("action", sa.Text()),
)
STEPS_0003 = sa.table(
    "test_case_steps", sa.column("id", sa.Integer()), sa.column("attachments", sa.JSON())
)
STEPS_0004 = sa.table(
    "test_case_steps", sa.column("id", sa.Integer()), sa.column("attachments", sa.Text())
)


def nested(depth: int) -> list[Any]:
    value: list[Any] = ["deep.png"]
    for _ in range(depth - 1):
        value = [value]
    return value


async def insert_steps(database: Database, table: sa.TableClause, values: list[Any]) -> int:
    """A case (id 1) with one step per value (ids 1, 2, …); returns the case's id."""
    async with database.session(write=True) as session:
        await session.execute(
            insert(Base.metadata.tables["test_cases"]).values(
                id=1, name="Login works", version=1, created_at=utcnow(), updated_at=utcnow()
            )
        )
        for number, value in enumerate(values, start=1):
            await session.execute(
                insert(STEPS).values(
                    id=number, test_case_id=1, position=number, action=f"step {number}"
                )
            )
            await session.execute(
                table.update().where(table.c.id == number).values(attachments=value)
            )
    return 1


async def stored(database: Database, table: sa.TableClause) -> list[Any]:
    async with database.session() as session:
        rows = await session.execute(sa.select(table.c.attachments).order_by(table.c.id))
    return list(rows.scalars())


# What each JSON value stored before 0004 becomes.
UPGRADED = [
    (sa.null(), None),
    (None, None),  # JSON null
    ([], None),
    (["screenshot-1.png"], "screenshot-1.png"),
    (["login.png", "notes.txt"], "login.png, notes.txt"),
    (["снимок экрана.png"], "снимок экрана.png"),
    ("notes.txt", "notes.txt"),
    ([{"file": "login.png"}, "notes.txt"], '[{"file": "login.png"}, "notes.txt"]'),
    (["a, b", "c"], '["a, b", "c"]'),
    (["nul\u0000inside"], '["nul\\u0000inside"]'),
    ({"file": "login.png", "size": 12}, '{"file": "login.png", "size": 12}'),
    (nested(300), json.dumps(nested(300))),
]


async def test_upgrading_to_0004_turns_stored_step_attachments_into_text(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0003")
    await insert_steps(database, STEPS_0003, [value for value, _ in UPGRADED])

    await upgrade(MIGRATIONS, database_url, "0004")

    assert await stored(database, STEPS_0004) == [text for _, text in UPGRADED]


async def test_a_case_whose_stored_attachments_broke_its_reading_reads_back_after_0004(
    database_url: str, database: Database, tmp_path: Any
) -> None:
    await upgrade(MIGRATIONS, database_url, "0003")
    case_id = await insert_steps(database, STEPS_0003, [nested(300), ["a.png", "b.png"]])
    settings = CatalogSettings(database_url=database_url, data_dir=tmp_path, **principal_settings())

    async with app_client(create_app(settings)) as client:  # migrates to head on start
        response = await client.get(f"/api/v1/test-cases/{case_id}")

    assert response.status_code == 200, response.text
    assert [step["attachments"] for step in response.json()["steps"]] == [
        json.dumps(nested(300)),
        "a.png, b.png",
    ]


async def test_downgrading_from_0004_turns_text_back_into_lists(
    database_url: str, database: Database
) -> None:
    await upgrade(MIGRATIONS, database_url, "0004")
    texts = ["screenshot-1.png", "login.png, notes.txt", '[{"file": "a.png"}]', "[draft].png", None]
    await insert_steps(database, STEPS_0004, texts)

    await downgrade(database_url, "0003")

    assert await stored(database, STEPS_0003) == [
        ["screenshot-1.png"],
        ["login.png", "notes.txt"],
        [{"file": "a.png"}],
        ["[draft].png"],
        None,
    ]


async def test_lists_of_names_survive_an_upgrade_and_a_downgrade_unchanged(
    database_url: str, database: Database
) -> None:
    lists = [["one.png"], ["a.png", "b.png", "c.txt"], [{"file": "x"}], ["a, b", "c"]]
    await upgrade(MIGRATIONS, database_url, "0003")
    await insert_steps(database, STEPS_0003, lists)

    await upgrade(MIGRATIONS, database_url, "0004")
    await downgrade(database_url, "0003")

    assert await stored(database, STEPS_0003) == lists
