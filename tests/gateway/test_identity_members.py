"""/projects/{key}/members: members see them, owners (and admins) set and remove them."""

from __future__ import annotations

import httpx
import pytest
from tests.gateway.identity import API, Admin

from testops_kit.testing import assert_problem


@pytest.fixture
async def project(admin: Admin) -> str:
    return await admin.project()


async def test_an_owner_adds_a_member_with_201_then_changes_its_role_with_200(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    owner = await admin.account(project, "owner")
    newcomer = await admin.user()
    url = f"{API}/projects/{project}/members/{newcomer['id']}"

    added = await gateway.put(url, json={"role": "viewer"}, headers=owner.headers)
    changed = await gateway.put(url, json={"role": "editor"}, headers=owner.headers)
    fetched = await gateway.get(url, headers=owner.headers)

    assert added.status_code == 201, added.text
    assert added.headers["location"] == url
    assert (added.json()["user_id"], added.json()["role"]) == (newcomer["id"], "viewer")
    assert added.json()["username"] == newcomer["username"]
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "editor"
    assert fetched.json()["role"] == "editor"


async def test_members_list_the_members_and_strangers_find_no_project(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    viewer = await admin.account(project, "viewer")
    editor = await admin.account(project, "editor")
    stranger = await admin.account(await admin.project(), "owner")

    first = await gateway.get(
        f"{API}/projects/{project}/members", params={"limit": 1}, headers=viewer.headers
    )
    second = await gateway.get(
        f"{API}/projects/{project}/members",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=viewer.headers,
    )
    hidden = await gateway.get(f"{API}/projects/{project}/members", headers=stranger.headers)

    items = first.json()["items"] + second.json()["items"]
    assert [(m["user_id"], m["role"]) for m in items] == [
        (viewer.id, "viewer"),
        (editor.id, "editor"),
    ]
    assert second.json()["next_cursor"] is None
    assert_problem(hidden, 404, "project_not_found")


async def test_an_editor_may_not_change_members(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    editor = await admin.account(project, "editor")
    other = await admin.user()

    added = await gateway.put(
        f"{API}/projects/{project}/members/{other['id']}",
        json={"role": "owner"},
        headers=editor.headers,
    )
    promoted = await gateway.put(
        f"{API}/projects/{project}/members/{editor.id}",
        json={"role": "owner"},
        headers=editor.headers,
    )

    assert_problem(added, 403, "forbidden")
    assert_problem(promoted, 403, "forbidden")


async def test_removing_a_member_takes_its_access_at_once(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    owner = await admin.account(project, "owner")
    editor = await admin.account(project, "editor")
    assert (await gateway.get(f"{API}/projects/{project}/tags", headers=editor.headers)).is_success

    removed = await gateway.delete(
        f"{API}/projects/{project}/members/{editor.id}", headers=owner.headers
    )
    again = await gateway.delete(
        f"{API}/projects/{project}/members/{editor.id}", headers=owner.headers
    )
    after = await gateway.get(f"{API}/projects/{project}/tags", headers=editor.headers)

    assert removed.status_code == 204, removed.text
    assert_problem(again, 404, "member_not_found")
    assert_problem(after, 404, "project_not_found")


async def test_an_unknown_user_or_role_is_refused(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    user = await admin.user()

    unknown_user = await gateway.put(
        f"{API}/projects/{project}/members/2000000000",
        json={"role": "viewer"},
        headers=admin.headers,
    )
    unknown_role = await gateway.put(
        f"{API}/projects/{project}/members/{user['id']}",
        json={"role": "admin"},
        headers=admin.headers,
    )

    assert_problem(unknown_user, 404, "user_not_found")
    assert_problem(unknown_role, 422, "validation_error")


async def test_a_deactivated_user_cannot_be_made_a_member(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    user = await admin.user()
    await admin.deactivate(user["id"])

    response = await gateway.put(
        f"{API}/projects/{project}/members/{user['id']}",
        json={"role": "viewer"},
        headers=admin.headers,
    )

    assert_problem(response, 409, "user_deactivated")


async def test_the_members_of_an_archived_project_do_not_change(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    user = await admin.user()
    await gateway.delete(f"{API}/projects/{project}", headers=admin.headers)

    response = await gateway.put(
        f"{API}/projects/{project}/members/{user['id']}",
        json={"role": "viewer"},
        headers=admin.headers,
    )

    assert_problem(response, 409, "project_archived")
