"""A catalog made before projects, upgraded (migration 0005): everything it held is in `DEFAULT`,
whole — cases with their steps, tags and suite links, the suite tree and its membership,
attachments and their bytes — and readable in both path forms; other projects see none of it.
Nothing of it was lost on the way, though SQLite re-creates the tables others refer to.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from alembic import command
from fastapi import FastAPI
from tests.catalog.conftest import project_client

from testops_catalog.main import MIGRATIONS, create_app
from testops_catalog.settings import CatalogSettings
from testops_kit.database import Database, utcnow
from testops_kit.migrations import alembic_config, current_revision, head_revision, upgrade
from testops_kit.storage import open_storage
from testops_kit.testing import app_client, assert_problem, principal_settings

JSON = dict[str, Any]
BEFORE_PROJECTS = "0004"

# The tables as revision 0004 left them, as much of them as this fills.
TAGS = sa.table("tags", sa.column("id", sa.Integer()), sa.column("name"), sa.column("created_at"))
CASES = sa.table(
    "test_cases",
    *(sa.column(name) for name in ("id", "name", "description", "version")),
    *(sa.column(name) for name in ("created_at", "updated_at", "deleted_at")),
)
STEPS = sa.table(
    "test_case_steps",
    *(sa.column(name) for name in ("id", "test_case_id", "position", "action", "expected")),
)
CASE_TAGS = sa.table("case_tags", sa.column("test_case_id"), sa.column("tag_id"))
SUITES = sa.table(
    "suites",
    *(sa.column(name) for name in ("id", "name", "parent_id", "version")),
    *(sa.column(name) for name in ("created_at", "updated_at", "deleted_at")),
)
SUITE_CASES = sa.table(
    "suite_cases", *(sa.column(n) for n in ("suite_id", "test_case_id", "position", "created_at"))
)
ATTACHMENTS = sa.table(
    "case_attachments",
    *(sa.column(name) for name in ("id", "test_case_id", "filename", "content_type", "size")),
    *(sa.column(name) for name in ("sha256", "storage_key", "created_at")),
)
CONTENT = b"2026-12-07 login ok\n"


@dataclass
class OldCatalog:
    """What the catalog held before projects, by name."""

    ids: dict[str, int] = field(default_factory=dict)
    storage_key: str = ""


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("catalog_upgrade")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> CatalogSettings:
    return CatalogSettings(database_url=database_url, data_dir=tmp_path, **principal_settings())


async def insert(session: Any, table: sa.TableClause, **values: Any) -> int:
    """Insert a row; the id the database gave it."""
    row_id: int = (
        await session.execute(table.insert().values(**values).returning(table.c.id))
    ).one()[0]
    return row_id


async def fill_before_projects(database_url: str, settings: CatalogSettings) -> OldCatalog:
    """A catalog at revision 0004, filled as its API would have: ids are the database's."""
    await upgrade(MIGRATIONS, database_url, BEFORE_PROJECTS)
    old = OldCatalog(storage_key=f"case-attachments/{uuid.uuid4().hex}")
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    database = Database(database_url)
    try:
        async with database.session(write=True) as session:
            for name in ("smoke", "slow", "gone"):
                old.ids[name] = await insert(session, TAGS, name=name, created_at=now)
            # The newest tag was deleted: its id is never handed out again.
            await session.execute(TAGS.delete().where(TAGS.c.id == old.ids["gone"]))
            old.ids["login"] = await insert(
                session, CASES, name="Login works", description="Checks the login", version=3,
                **stamps,
            )  # fmt: skip
            old.ids["logout"] = await insert(
                session, CASES, name="Logout works", version=2, deleted_at=now, **stamps
            )
            for position, action in ((1, "Open login page"), (2, "Submit")):
                await insert(
                    session, STEPS, test_case_id=old.ids["login"], position=position,
                    action=action, expected=f"step {position} done",
                )  # fmt: skip
            for tag in ("smoke", "slow"):
                await session.execute(
                    CASE_TAGS.insert().values(test_case_id=old.ids["login"], tag_id=old.ids[tag])
                )
            old.ids["api"] = await insert(session, SUITES, name="API Suite", version=1, **stamps)
            old.ids["auth"] = await insert(
                session, SUITES, name="Auth", parent_id=old.ids["api"], version=1, **stamps
            )
            await session.execute(
                SUITE_CASES.insert().values(
                    suite_id=old.ids["auth"], test_case_id=old.ids["login"], position=1,
                    created_at=now,
                )
            )  # fmt: skip
            old.ids["attachment"] = await insert(
                session, ATTACHMENTS, test_case_id=old.ids["login"], filename="login.log",
                content_type="text/plain", size=len(CONTENT), sha256="0" * 64,
                storage_key=old.storage_key, created_at=now,
            )  # fmt: skip
    finally:
        await database.dispose()
    async with open_storage(settings) as storage:
        await storage.put_bytes(old.storage_key, CONTENT)
    return old


@pytest.fixture
async def upgraded(
    database_url: str, settings: CatalogSettings
) -> AsyncIterator[tuple[FastAPI, OldCatalog]]:
    """The old catalog, and the catalog app that upgraded it at start-up, running."""
    old = await fill_before_projects(database_url, settings)
    app = create_app(settings)
    async with app_client(app):
        yield app, old


@pytest.mark.parametrize("path_form", ["unscoped", "scoped"])
async def test_everything_held_before_projects_is_in_default_whole_and_readable(
    upgraded: tuple[FastAPI, OldCatalog], path_form: str
) -> None:
    app, old = upgraded
    async with project_client(app, "DEFAULT", path_form) as client:
        cases = (await client.get("/test-cases", params={"deleted": "include"})).json()
        login = (await client.get(f"/test-cases/{old.ids['login']}")).json()
        tree = (await client.get(f"/suites/{old.ids['api']}/tree")).json()
        tags = (await client.get("/tags")).json()
        members = (await client.get(f"/suites/{old.ids['auth']}/cases")).json()
        attachments = await client.get(f"/test-cases/{old.ids['login']}/attachments")
        content = await client.get(
            f"/test-cases/{old.ids['login']}/attachments/{old.ids['attachment']}/content"
        )

    assert [(c["id"], c["name"], c["is_deleted"]) for c in cases["items"]] == [
        (old.ids["login"], "Login works", False),
        (old.ids["logout"], "Logout works", True),
    ]
    assert (login["description"], login["version"]) == ("Checks the login", 3)
    assert [(s["position"], s["action"], s["expected"]) for s in login["steps"]] == [
        (1, "Open login page", "step 1 done"),
        (2, "Submit", "step 2 done"),
    ]
    assert login["tags"] == [
        {"id": old.ids["slow"], "name": "slow"},
        {"id": old.ids["smoke"], "name": "smoke"},
    ]
    assert login["suites"] == [{"id": old.ids["auth"], "name": "Auth", "position": 1}]
    assert [(child["id"], child["parent_id"]) for child in tree["children"]] == [
        (old.ids["auth"], old.ids["api"])
    ]
    assert tree["children"][0]["case_count"] == 1
    assert [(t["name"], t["case_count"]) for t in tags["items"]] == [("slow", 1), ("smoke", 1)]
    assert [m["test_case_id"] for m in members["items"]] == [old.ids["login"]]
    assert [a["filename"] for a in attachments.json()["items"]] == ["login.log"]
    assert content.content == CONTENT


async def test_another_project_sees_nothing_of_what_was_held_before_projects(
    upgraded: tuple[FastAPI, OldCatalog],
) -> None:
    app, old = upgraded
    async with project_client(app, "SHOP", "scoped") as shop:
        listings = [
            await shop.get(path, params={"deleted": "include"} if path == "/test-cases" else {})
            for path in ("/test-cases", "/suites", "/tags")
        ]
        case = await shop.get(f"/test-cases/{old.ids['login']}")
        suite = await shop.get(f"/suites/{old.ids['api']}")

    assert [listing.json()["items"] for listing in listings] == [[], [], []]
    assert_problem(case, 404, "test_case_not_found")
    assert_problem(suite, 404, "suite_not_found")


async def test_after_the_upgrade_names_are_unique_per_project_and_ids_never_reused(
    upgraded: tuple[FastAPI, OldCatalog],
) -> None:
    app, old = upgraded
    async with (
        project_client(app, "DEFAULT", "unscoped") as default,
        project_client(app, "SHOP", "unscoped") as shop,
    ):
        taken = await default.post("/test-cases", json={"name": "Login works"})
        elsewhere = await shop.post("/test-cases", json={"name": "Login works"})
        restored = await default.post(f"/test-cases/{old.ids['logout']}/restore")
        root = await default.post("/suites", json={"name": "API Suite"})
        tag = await default.post("/tags", json={"name": "fresh"})

    assert_problem(taken, 409, "test_case_name_conflict")
    assert elsewhere.status_code == 201, elsewhere.text
    assert restored.status_code == 200, restored.text
    assert_problem(root, 409, "suite_name_conflict")
    assert tag.status_code == 201, tag.text
    assert tag.json()["id"] > old.ids["gone"]


async def downgrade(database_url: str, revision: str) -> None:
    config = alembic_config(MIGRATIONS, database_url)
    await anyio.to_thread.run_sync(command.downgrade, config, revision)


async def rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the old catalog's tables hold (but their timestamps), in key order."""
    tables = {
        "tags": (TAGS.c.id, TAGS.c.name),
        "test_cases": (CASES.c.id, CASES.c.name, CASES.c.version),
        "test_case_steps": (STEPS.c.id, STEPS.c.test_case_id, STEPS.c.position),
        "case_tags": (CASE_TAGS.c.test_case_id, CASE_TAGS.c.tag_id),
        "suites": (SUITES.c.id, SUITES.c.name, SUITES.c.parent_id),
        "suite_cases": (SUITE_CASES.c.suite_id, SUITE_CASES.c.test_case_id),
        "case_attachments": (ATTACHMENTS.c.id, ATTACHMENTS.c.test_case_id),
    }
    database = Database(database_url)
    try:
        async with database.session() as session:
            return {
                name: [
                    tuple(row) for row in await session.execute(sa.select(*cols).order_by(*cols))
                ]
                for name, cols in tables.items()
            }
    finally:
        await database.dispose()


async def test_an_upgrade_and_a_downgrade_keep_every_row_and_reference(
    database_url: str, settings: CatalogSettings
) -> None:
    await fill_before_projects(database_url, settings)
    before = await rows(database_url)

    await upgrade(MIGRATIONS, database_url)
    upgraded = await rows(database_url)
    await downgrade(database_url, BEFORE_PROJECTS)

    assert upgraded == before
    assert await rows(database_url) == before
    assert len(before["case_tags"]) == 2
    assert before["suites"][1][2] is not None  # the child keeps its parent


async def test_a_downgrade_is_refused_while_another_project_holds_anything(
    database_url: str, settings: CatalogSettings
) -> None:
    await fill_before_projects(database_url, settings)
    app = create_app(settings)
    async with app_client(app), project_client(app, "SHOP", "unscoped") as shop:
        assert (await shop.post("/tags", json={"name": "smoke"})).status_code == 201

    with pytest.raises(RuntimeError, match="other than DEFAULT"):
        await downgrade(database_url, BEFORE_PROJECTS)

    database = Database(database_url)
    try:
        assert await current_revision(database.engine) == head_revision(MIGRATIONS)
    finally:
        await database.dispose()
