"""/projects: an admin creates and archives them, members see them, owners change them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.gateway.identity import API, Admin, new_key

from testops_kit.testing import assert_problem


async def test_an_admin_creates_a_project_with_201_and_location(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    key = new_key("SHOP")

    response = await gateway.post(
        f"{API}/projects",
        json={"key": key, "name": "  Shop  ", "description": "The web shop"},
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/projects/{key}"
    project = response.json()
    assert (project["key"], project["name"], project["description"]) == (
        key,
        "Shop",
        "The web shop",
    )
    assert (project["is_archived"], project["archived_at"], project["role"]) == (
        False,
        None,
        "admin",
    )


async def test_a_key_taken_already_is_409(gateway: httpx.AsyncClient, admin: Admin) -> None:
    key = await admin.project()

    response = await gateway.post(
        f"{API}/projects", json={"key": key, "name": "again"}, headers=admin.headers
    )

    assert_problem(response, 409, "project_key_conflict")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"key": "shop", "name": "x"}, id="lower-case"),
        pytest.param({"key": "S", "name": "x"}, id="one-letter"),
        pytest.param({"key": "1SHOP", "name": "x"}, id="leading-digit"),
        pytest.param({"key": "S" * 17, "name": "x"}, id="too-long"),
        pytest.param({"key": "SHOP-1", "name": "x"}, id="dash"),
        pytest.param({"key": "SHOPX", "name": "   "}, id="blank-name"),
        pytest.param({"key": "SHOPX"}, id="no-name"),
    ],
)
async def test_a_bad_key_or_name_is_422(
    gateway: httpx.AsyncClient, admin: Admin, body: dict[str, Any]
) -> None:
    response = await gateway.post(f"{API}/projects", json=body, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_only_an_admin_creates_a_project(gateway: httpx.AsyncClient, admin: Admin) -> None:
    owner = await admin.account(await admin.project(), "owner")

    response = await gateway.post(
        f"{API}/projects", json={"key": new_key(), "name": "mine"}, headers=owner.headers
    )

    assert_problem(response, 403, "forbidden")


async def test_a_user_lists_its_own_projects_and_an_admin_all_of_them(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    mine, theirs = await admin.project(), await admin.project()
    account = await admin.account(mine, "viewer")

    own = await gateway.get(f"{API}/projects", params={"limit": 500}, headers=account.headers)
    every: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await gateway.get(f"{API}/projects", params=params, headers=admin.headers)).json()
        every += [p["key"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [(p["key"], p["role"]) for p in own.json()["items"]] == [(mine, "viewer")]
    assert {mine, theirs, "DEFAULT"} <= set(every)
    assert every == sorted(every)


async def test_a_member_reads_the_project_and_anyone_else_finds_none(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    key = await admin.project()
    viewer = await admin.account(key, "viewer")
    stranger = await admin.account(await admin.project(), "owner")

    seen = await gateway.get(f"{API}/projects/{key}", headers=viewer.headers)
    hidden = await gateway.get(f"{API}/projects/{key}", headers=stranger.headers)
    missing = await gateway.get(f"{API}/projects/{new_key()}", headers=admin.headers)

    assert seen.status_code == 200, seen.text
    assert seen.json()["role"] == "viewer"
    assert_problem(hidden, 404, "project_not_found")
    assert_problem(missing, 404, "project_not_found")


async def test_an_owner_renames_the_project_and_an_editor_may_not(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    key = await admin.project()
    owner = await admin.account(key, "owner")
    editor = await admin.account(key, "editor")

    renamed = await gateway.patch(
        f"{API}/projects/{key}", json={"name": "Renamed"}, headers=owner.headers
    )
    refused = await gateway.patch(
        f"{API}/projects/{key}", json={"description": "no"}, headers=editor.headers
    )
    nulled = await gateway.patch(
        f"{API}/projects/{key}", json={"name": None}, headers=owner.headers
    )

    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["key"]) == ("Renamed", key)
    body = assert_problem(refused, 403, "forbidden")
    assert "'manage'" in body["detail"], body
    assert_problem(nulled, 422, "validation_error")


async def test_archiving_keeps_the_project_read_only_and_restoring_undoes_it(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    key = await admin.project()
    owner = await admin.account(key, "owner")

    by_owner = await gateway.delete(f"{API}/projects/{key}", headers=owner.headers)
    archived = await gateway.delete(f"{API}/projects/{key}", headers=admin.headers)
    read = await gateway.get(f"{API}/projects/{key}", headers=owner.headers)
    patched = await gateway.patch(
        f"{API}/projects/{key}", json={"name": "late"}, headers=owner.headers
    )
    listed = await gateway.get(f"{API}/projects", headers=owner.headers)
    with_archived = await gateway.get(
        f"{API}/projects", params={"include_archived": True}, headers=owner.headers
    )
    restored = await gateway.post(f"{API}/projects/{key}/restore", headers=admin.headers)

    assert_problem(by_owner, 403, "forbidden")
    assert archived.status_code == 204, archived.text
    assert read.json()["is_archived"] is True
    assert_problem(patched, 409, "project_archived")
    assert key not in [p["key"] for p in listed.json()["items"]]
    assert key in [p["key"] for p in with_archived.json()["items"]]
    assert restored.status_code == 200, restored.text
    assert restored.json()["is_archived"] is False
