"""GET /me: who the caller is and the projects it acts in."""

from __future__ import annotations

import httpx
from tests.gateway.conftest import StartGateway, bearer
from tests.gateway.identity import API, Admin

from testops_kit.testing import assert_problem


async def test_a_user_sees_itself_and_its_projects_with_its_role_in_each(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    shop, other = await admin.project(), await admin.project()
    account = await admin.account(shop, "editor")
    await admin.member(other, account.id, "viewer")

    response = await gateway.get(f"{API}/me", headers=account.headers)

    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["id"], me["username"], me["instance_role"], me["kind"]) == (
        account.id,
        account.username,
        "user",
        "service",
    )
    roles = {p["key"]: p["role"] for p in me["projects"]}
    assert roles == {shop: "editor", other: "viewer"}
    assert set(me) == {
        "id",
        "username",
        "display_name",
        "email",
        "instance_role",
        "kind",
        "projects",
    }


async def test_a_token_restricted_to_a_project_shows_that_project_only(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    shop, other = await admin.project(), await admin.project()
    account = await admin.account(shop, "editor", token_project=shop)
    await admin.member(other, account.id, "owner")

    me = (await gateway.get(f"{API}/me", headers=account.headers)).json()

    assert [p["key"] for p in me["projects"]] == [shop]


async def test_a_token_line_of_the_settings_is_a_builtin_admin_in_every_project(
    gateway: httpx.AsyncClient, admin: Admin, tokens: dict[str, str]
) -> None:
    key = await admin.project()

    response = await gateway.get(f"{API}/me", headers=bearer(tokens["reader"]))

    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["id"], me["username"], me["instance_role"], me["kind"]) == (
        None,
        "token:reader",
        "admin",
        "builtin",
    )
    assert {"key": key, "name": f"Project {key}", "role": "admin"} in me["projects"]


async def test_with_auth_disabled_an_anonymous_caller_is_the_local_admin(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(auth_disabled=True, tokens=None) as gateway:
        response = await gateway.get(f"{API}/me")

    assert response.status_code == 200, response.text
    assert response.json()["username"] == "local-admin"
    assert response.json()["instance_role"] == "admin"


async def test_without_credentials_me_is_401(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get(f"{API}/me")

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
