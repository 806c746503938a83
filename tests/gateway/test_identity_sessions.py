"""POST /auth/login and POST /auth/logout: a browser session in an HttpOnly cookie, its CSRF
twin that every write must echo, the same answer for a wrong password and an unknown user,
throttled failures, and sessions that end (sign-out, deactivation, idleness, age)."""

from __future__ import annotations

import statistics
import time
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import StartGateway
from tests.gateway.identity import (
    API,
    PASSWORD,
    Admin,
    browser,
    csrf_header,
    new_address,
    new_username,
    sign_in,
)

from testops_kit.testing import assert_problem, wait_for


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    """The cookies ``response`` sets, by name, with their attributes."""
    cookies: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = morsel
    return cookies


@pytest.fixture
async def person(admin: Admin) -> dict[str, Any]:
    """A person who signs in with :data:`PASSWORD`."""
    return await admin.user(kind="human", password=PASSWORD)


async def test_signing_in_sets_an_http_only_session_cookie_and_a_readable_csrf_cookie(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        response = await client.post(
            f"{API}/auth/login", json={"username": person["username"], "password": PASSWORD}
        )

    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    session, csrf = cookies["testops_session"], cookies["testops_csrf"]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert not session["secure"], "plain HTTP: a Secure cookie would never come back"
    assert not csrf["httponly"], "the page's script reads it"
    assert csrf["samesite"].lower() == "lax"
    assert session.value != csrf.value
    assert response.headers["cache-control"] == "no-store"


async def test_behind_https_the_cookies_are_secure(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        response = await client.post(
            f"{API}/auth/login",
            json={"username": person["username"], "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )

    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    assert cookies["testops_session"]["secure"] is True
    assert cookies["testops_csrf"]["secure"] is True


async def test_a_session_reads_without_a_csrf_header(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        await sign_in(client, person["username"])
        me = await client.get(f"{API}/me")

    assert me.status_code == 200, me.text
    assert me.json()["username"] == person["username"]


async def test_a_write_in_a_session_without_the_csrf_header_is_refused(
    gateway: httpx.AsyncClient, admin: Admin, person: dict[str, Any]
) -> None:
    key = await admin.project()
    await admin.member(key, person["id"], "editor")
    async with browser(gateway) as client:
        await sign_in(client, person["username"])
        forwarded = await client.post(f"{API}/projects/{key}/tags", json={"name": "smoke"})
        own = await client.post(f"{API}/me/tokens", json={"name": "ci", "scopes": ["read"]})

    assert_problem(forwarded, 403, "csrf_failed")
    assert_problem(own, 403, "csrf_failed")


async def test_a_csrf_header_that_is_not_the_sessions_is_refused(
    gateway: httpx.AsyncClient, admin: Admin, person: dict[str, Any]
) -> None:
    other = await admin.user(kind="human", password=PASSWORD)
    async with browser(gateway) as mine, browser(gateway) as theirs:
        await sign_in(mine, person["username"])
        their_csrf = await sign_in(theirs, other["username"])
        # Their token in both places: the cookie and the header agree, the session does not.
        mine.cookies.set("testops_csrf", their_csrf)
        response = await mine.post(
            f"{API}/me/tokens",
            json={"name": "ci", "scopes": ["read"]},
            headers=csrf_header(their_csrf),
        )

    assert_problem(response, 403, "csrf_failed")


async def test_a_write_with_the_csrf_header_goes_through(
    gateway: httpx.AsyncClient, admin: Admin, person: dict[str, Any]
) -> None:
    key = await admin.project()
    await admin.member(key, person["id"], "editor")
    async with browser(gateway) as client:
        csrf = await sign_in(client, person["username"])
        response = await client.post(
            f"{API}/projects/{key}/tags",
            json={"name": new_username("tag")},
            headers=csrf_header(csrf),
        )

    assert response.status_code == 201, response.text


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        wrong = await client.post(
            f"{API}/auth/login", json={"username": person["username"], "password": "not it!!"}
        )
        unknown = await client.post(
            f"{API}/auth/login", json={"username": new_username(), "password": "not it!!"}
        )

    first = assert_problem(wrong, 401, "invalid_credentials")
    second = assert_problem(unknown, 401, "invalid_credentials")
    assert first == second
    assert "set-cookie" not in wrong.headers


async def test_an_unknown_user_takes_about_as_long_to_refuse_as_a_wrong_password(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async def refusal_s(username: str) -> float:
        async with browser(gateway) as client:
            started = time.perf_counter()
            response = await client.post(
                f"{API}/auth/login", json={"username": username, "password": "not it!!"}
            )
            elapsed = time.perf_counter() - started
        assert response.status_code == 401, response.text
        return elapsed

    known = statistics.median([await refusal_s(person["username"]) for _ in range(3)])
    unknown = statistics.median([await refusal_s(new_username()) for _ in range(3)])

    # Both check a password with Argon2id (tens to hundreds of milliseconds); skipping the
    # check for an unknown user would make it a hundred times faster.
    assert unknown > known / 3, (known, unknown)


@pytest.mark.parametrize("kind", ["service", "deactivated"])
async def test_a_service_account_or_a_deactivated_user_cannot_sign_in(
    gateway: httpx.AsyncClient, admin: Admin, kind: str
) -> None:
    if kind == "service":
        user = await admin.user(kind="service")
    else:
        user = await admin.user(kind="human", password=PASSWORD)
        await admin.deactivate(user["id"])

    async with browser(gateway) as client:
        response = await client.post(
            f"{API}/auth/login", json={"username": user["username"], "password": PASSWORD}
        )

    assert_problem(response, 401, "invalid_credentials")


async def test_the_username_is_matched_whatever_its_case(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        csrf = await sign_in(client, person["username"].upper())

    assert csrf


async def test_failures_for_one_username_are_throttled_from_any_address(
    start_gateway: StartGateway, admin: Admin
) -> None:
    async with start_gateway(login_max_failures=2, login_window_s=600) as gateway:
        user = await Admin(gateway, admin.root_token).user(kind="human", password=PASSWORD)
        body = {"username": user["username"], "password": "not it!!"}
        async with browser(gateway) as first, browser(gateway) as second:
            failures = [
                (await first.post(f"{API}/auth/login", json=body)).status_code for _ in "ab"
            ]
            throttled = await second.post(f"{API}/auth/login", json={**body, "password": PASSWORD})

    assert failures == [401, 401]
    assert_problem(throttled, 429, "sign_in_throttled")
    assert 1 <= int(throttled.headers["retry-after"]) <= 600


async def test_failures_from_one_address_are_throttled_for_any_username(
    start_gateway: StartGateway, admin: Admin
) -> None:
    address = new_address()
    async with start_gateway(login_max_failures=2, login_window_s=600) as gateway:
        user = await Admin(gateway, admin.root_token).user(kind="human", password=PASSWORD)
        async with browser(gateway, address=address) as client, browser(gateway) as elsewhere:
            for _ in range(2):
                body = {"username": new_username(), "password": "not it!!"}
                assert (await client.post(f"{API}/auth/login", json=body)).status_code == 401
            good = {"username": user["username"], "password": PASSWORD}
            throttled = await client.post(f"{API}/auth/login", json=good)
            from_elsewhere = await elsewhere.post(f"{API}/auth/login", json=good)

    assert_problem(throttled, 429, "sign_in_throttled")
    assert "retry-after" in throttled.headers
    assert from_elsewhere.status_code == 204, from_elsewhere.text


async def test_signing_out_ends_the_session(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        csrf = await sign_in(client, person["username"])
        cookie = client.cookies.get("testops_session")
        signed_out = await client.post(f"{API}/auth/logout", headers=csrf_header(csrf))
    async with browser(gateway) as replay:
        replay.cookies.set("testops_session", cookie or "")
        after = await replay.get(f"{API}/me")

    assert signed_out.status_code == 204, signed_out.text
    cleared = set_cookies(signed_out)
    assert cleared["testops_session"].value == ""
    assert cleared["testops_session"]["max-age"] == "0"
    assert_problem(after, 401, "unauthenticated")


async def test_signing_out_without_the_csrf_header_is_refused_and_the_session_lives_on(
    gateway: httpx.AsyncClient, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        await sign_in(client, person["username"])
        refused = await client.post(f"{API}/auth/logout")
        me = await client.get(f"{API}/me")

    assert_problem(refused, 403, "csrf_failed")
    assert me.status_code == 200, me.text


async def test_signing_out_without_a_session_is_204(gateway: httpx.AsyncClient) -> None:
    async with browser(gateway) as client:
        response = await client.post(f"{API}/auth/logout")

    assert response.status_code == 204, response.text


async def test_deactivating_a_user_ends_its_sessions_at_once(
    gateway: httpx.AsyncClient, admin: Admin, person: dict[str, Any]
) -> None:
    async with browser(gateway) as client:
        await sign_in(client, person["username"])
        before = await client.get(f"{API}/me")
        await admin.deactivate(person["id"])
        after = await client.get(f"{API}/me")

    assert before.status_code == 200, before.text
    assert_problem(after, 401, "unauthenticated")


async def test_a_session_unused_for_longer_than_its_idle_time_ends(
    start_gateway: StartGateway, admin: Admin
) -> None:
    async with start_gateway(session_idle_s=1) as gateway:
        user = await Admin(gateway, admin.root_token).user(kind="human", password=PASSWORD)
        async with browser(gateway) as client:
            await sign_in(client, user["username"])
            used = await client.get(f"{API}/me")
            last_use = time.monotonic()

            # Left alone (any request would be a use): the time passes without one.
            async def idle_long_enough() -> bool | None:
                return True if time.monotonic() - last_use > 1.2 else None

            await wait_for(idle_long_enough, within=5)
            after = await client.get(f"{API}/me")

    assert used.status_code == 200, used.text
    assert_problem(after, 401, "unauthenticated")


async def test_a_session_ends_at_its_max_age_however_busy(
    start_gateway: StartGateway, admin: Admin
) -> None:
    async with start_gateway(session_max_age_s=1) as gateway:
        user = await Admin(gateway, admin.root_token).user(kind="human", password=PASSWORD)
        async with browser(gateway) as client:
            await sign_in(client, user["username"])

            async def ended() -> httpx.Response | None:
                response = await client.get(f"{API}/me")
                return response if response.status_code == 401 else None

            response = await wait_for(ended, within=10, interval=0.2)

    assert_problem(response, 401, "unauthenticated")


async def test_a_sign_in_without_a_username_or_password_is_422(
    gateway: httpx.AsyncClient,
) -> None:
    async with browser(gateway) as client:
        response = await client.post(f"{API}/auth/login", json={"username": "alice"})

    assert_problem(response, 422, "validation_error")
