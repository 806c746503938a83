"""/users (instance admins only): list, create, get, change, deactivate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import StartGateway
from tests.gateway.identity import API, PASSWORD, Admin, browser, new_username, sign_in

from testops_kit.testing import assert_problem


async def test_an_admin_creates_a_person_with_201_and_location(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    name = new_username("alice")

    response = await gateway.post(
        f"{API}/users",
        json={
            "username": name,
            "display_name": "Alice",
            "email": "alice@example.com",
            "password": PASSWORD,
        },
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    user = response.json()
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert user["username"] == name
    assert (user["instance_role"], user["kind"], user["is_active"], user["has_password"]) == (
        "user",
        "human",
        True,
        True,
    )
    assert "password" not in user
    assert "password_hash" not in user
    assert PASSWORD not in response.text
    fetched = await gateway.get(response.headers["location"], headers=admin.headers)
    assert fetched.json() == user


async def test_usernames_are_unique_whatever_their_case(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    name = new_username("bob")
    await admin.user(username=name)

    response = await gateway.post(
        f"{API}/users", json={"username": name.upper(), "kind": "service"}, headers=admin.headers
    )

    assert_problem(response, 409, "username_conflict")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "has space"}, id="space-in-username"),
        pytest.param({"username": "-starts-with-dash"}, id="leading-dash"),
        pytest.param({"username": "x" * 65}, id="too-long"),
        pytest.param({"username": "shortpw", "password": "short"}, id="short-password"),
        pytest.param({"username": "svc", "kind": "service", "password": PASSWORD}, id="service-pw"),
        pytest.param({"username": "role", "instance_role": "root"}, id="unknown-role"),
        pytest.param({"username": "mail", "email": "not-an-address"}, id="bad-email"),
        pytest.param({"username": "extra", "is_admin": True}, id="unknown-field"),
    ],
)
async def test_an_invalid_user_is_422(
    gateway: httpx.AsyncClient, admin: Admin, body: dict[str, Any]
) -> None:
    response = await gateway.post(f"{API}/users", json=body, headers=admin.headers)

    assert_problem(response, 422, "validation_error")


async def test_a_user_who_is_no_admin_may_not_manage_users(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(None, None)

    listed = await gateway.get(f"{API}/users", headers=account.headers)
    created = await gateway.post(
        f"{API}/users", json={"username": new_username()}, headers=account.headers
    )
    fetched = await gateway.get(f"{API}/users/{account.id}", headers=account.headers)

    for response in (listed, created, fetched):
        assert_problem(response, 403, "forbidden")


async def test_the_list_is_paginated_and_filtered(gateway: httpx.AsyncClient, admin: Admin) -> None:
    prefix = new_username("page")
    made = [await admin.user(username=f"{prefix}-{n}") for n in range(3)]

    first = await gateway.get(
        f"{API}/users", params={"q": prefix, "limit": 2}, headers=admin.headers
    )
    second = await gateway.get(
        f"{API}/users",
        params={"q": prefix, "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=admin.headers,
    )
    humans = await gateway.get(
        f"{API}/users", params={"q": prefix, "kind": "human"}, headers=admin.headers
    )

    names = [u["username"] for u in first.json()["items"] + second.json()["items"]]
    assert names == [u["username"] for u in made]
    assert second.json()["next_cursor"] is None
    assert humans.json()["items"] == []


async def test_an_unknown_user_is_404(gateway: httpx.AsyncClient, admin: Admin) -> None:
    response = await gateway.get(f"{API}/users/2000000000", headers=admin.headers)

    assert_problem(response, 404, "user_not_found")


async def test_patch_changes_only_the_fields_given_and_a_new_password_signs_in(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    user = await admin.user(kind="human", password=PASSWORD)

    response = await gateway.patch(
        f"{API}/users/{user['id']}",
        json={"display_name": "Carol", "password": "another long password"},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Carol"
    assert response.json()["email"] == user["email"]
    async with browser(gateway) as client:
        assert await sign_in(client, user["username"], "another long password")


async def test_deleting_a_user_deactivates_it_and_keeps_it(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(None, None)

    deleted = await gateway.delete(f"{API}/users/{account.id}", headers=admin.headers)
    again = await gateway.delete(f"{API}/users/{account.id}", headers=admin.headers)
    fetched = await gateway.get(f"{API}/users/{account.id}", headers=admin.headers)
    with_token = await gateway.get(f"{API}/me", headers=account.headers)

    assert deleted.status_code == 204, deleted.text
    assert again.status_code == 204, again.text
    assert fetched.json()["is_active"] is False
    assert fetched.json()["deactivated_at"] is not None
    assert_problem(with_token, 401, "unauthenticated")


async def test_a_reactivated_user_needs_new_tokens(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(None, None)
    await admin.deactivate(account.id)

    reactivated = await gateway.patch(
        f"{API}/users/{account.id}", json={"is_active": True}, headers=admin.headers
    )
    old_token = await gateway.get(f"{API}/me", headers=account.headers)

    assert reactivated.json()["is_active"] is True
    assert_problem(old_token, 401, "unauthenticated")


async def test_the_last_active_admin_cannot_be_deactivated_or_demoted(
    start_gateway: StartGateway, admin: Admin, database_url_factory: Callable[[str], str]
) -> None:
    # A database of its own: here, the admin made is the only one.
    url = await asyncio.to_thread(database_url_factory, "last_admin")
    async with start_gateway(database_url=url) as gateway:
        root = Admin(gateway, admin.root_token)
        only = await root.user(kind="human", instance_role="admin", password=PASSWORD)

        demoted = await gateway.patch(
            f"{API}/users/{only['id']}", json={"instance_role": "user"}, headers=root.headers
        )
        deactivated = await gateway.delete(f"{API}/users/{only['id']}", headers=root.headers)
        second = await root.user(kind="human", instance_role="admin")
        then = await gateway.delete(f"{API}/users/{only['id']}", headers=root.headers)

    assert_problem(demoted, 409, "last_admin")
    assert_problem(deactivated, 409, "last_admin")
    assert second["instance_role"] == "admin"
    assert then.status_code == 204, then.text
