"""With AUTH_DISABLED (``make run``), a request without credentials is the built-in local admin;
one with credentials is who they say, and credentials that stopped working are refused, never
taken for the local admin."""

from __future__ import annotations

import httpx
from tests.gateway.conftest import StartGateway, bearer
from tests.gateway.identity import API, PASSWORD, browser, csrf_header, new_username, sign_in

from testops_kit.testing import assert_problem


async def make_user(gateway: httpx.AsyncClient, **fields: str) -> dict[str, object]:
    body = {"username": new_username(), **fields}
    response = await gateway.post(f"{API}/users", json=body)  # as the local admin
    assert response.status_code == 201, response.text
    user: dict[str, object] = response.json()
    return user


async def test_a_revoked_token_is_401_not_the_local_admin(start_gateway: StartGateway) -> None:
    async with start_gateway(auth_disabled=True, tokens=None) as gateway:
        user = await make_user(gateway, kind="service")
        made = await gateway.post(
            f"{API}/users/{user['id']}/tokens", json={"name": "ci", "scopes": ["read"]}
        )
        assert made.status_code == 201, made.text
        token = made.json()
        before = await gateway.get(f"{API}/me", headers=bearer(token["token"]))
        revoked = await gateway.delete(f"{API}/users/{user['id']}/tokens/{token['id']}")
        after = await gateway.get(f"{API}/me", headers=bearer(token["token"]))
        anonymous = await gateway.get(f"{API}/me")

    assert before.json()["username"] == user["username"]
    assert revoked.status_code == 204, revoked.text
    assert_problem(after, 401, "unauthenticated")
    assert anonymous.json()["username"] == "local-admin"


async def test_a_signed_out_session_cookie_is_401_not_the_local_admin(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(auth_disabled=True, tokens=None) as gateway:
        user = await make_user(gateway, kind="human", password=PASSWORD)
        async with browser(gateway) as person:
            csrf = await sign_in(person, str(user["username"]))
            cookie = person.cookies["testops_session"]
            before = await person.get(f"{API}/me")
            out = await person.post(f"{API}/auth/logout", headers=csrf_header(csrf))
            person.cookies.set("testops_session", cookie)  # the old cookie, kept by a copy
            after = await person.get(f"{API}/me")

    assert before.json()["username"] == user["username"]
    assert out.status_code == 204, out.text
    assert_problem(after, 401, "unauthenticated")


async def test_a_deactivated_users_token_is_401_not_the_local_admin(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(auth_disabled=True, tokens=None) as gateway:
        user = await make_user(gateway, kind="service")
        made = await gateway.post(
            f"{API}/users/{user['id']}/tokens", json={"name": "ci", "scopes": ["read"]}
        )
        token = made.json()["token"]
        deactivated = await gateway.delete(f"{API}/users/{user['id']}")
        after = await gateway.get(f"{API}/runs", headers=bearer(token))

    assert deactivated.status_code == 204, deactivated.text
    assert_problem(after, 401, "unauthenticated")
