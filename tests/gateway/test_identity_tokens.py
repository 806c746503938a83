"""/me/tokens and /users/{id}/tokens: a token is shown once, kept as a hash, does at most what
its user (and the token that made it) may, and stops working the moment it is revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import bearer
from tests.gateway.identity import API, PASSWORD, Admin, browser, csrf_header, sign_in

from testops_kit.testing import assert_problem

TOKEN = re.compile(r"^tst_[A-Za-z0-9_-]{43}$")


async def test_a_signed_in_user_makes_a_token_shown_once(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    person = await admin.user(kind="human", password=PASSWORD)
    key = await admin.project()
    await admin.member(key, person["id"], "editor")
    async with browser(gateway) as client:
        csrf = await sign_in(client, person["username"])
        made = await client.post(
            f"{API}/me/tokens",
            json={"name": "ci", "scopes": ["write", "read"], "project": key},
            headers=csrf_header(csrf),
        )
        listed = await client.get(f"{API}/me/tokens")
        one = await client.get(made.headers["location"])

    assert made.status_code == 201, made.text
    token = made.json()
    assert TOKEN.match(token["token"])
    assert token["prefix"] == token["token"][:12]
    assert (token["name"], token["scopes"], token["project"]) == ("ci", ["read", "write"], key)
    assert (token["last_used_at"], token["expires_at"]) == (None, None)
    assert made.headers["cache-control"] == "no-store"
    assert made.headers["location"] == f"/api/v1/me/tokens/{token['id']}"
    shown = {k: v for k, v in token.items() if k != "token"}
    assert listed.json()["items"] == [shown]
    assert one.json() == shown
    assert token["token"] not in listed.text
    assert hashlib.sha256(token["token"].encode()).hexdigest() not in listed.text


async def test_a_new_token_works_and_stops_the_moment_it_is_revoked(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(None, None)
    made = await gateway.post(
        f"{API}/me/tokens", json={"name": "second", "scopes": ["read"]}, headers=account.headers
    )
    second = bearer(made.json()["token"])

    before = await gateway.get(f"{API}/me", headers=second)
    revoked = await gateway.delete(f"{API}/me/tokens/{made.json()['id']}", headers=account.headers)
    after = await gateway.get(f"{API}/me", headers=second)
    again = await gateway.delete(f"{API}/me/tokens/{made.json()['id']}", headers=account.headers)

    assert before.status_code == 200, before.text
    assert revoked.status_code == 204, revoked.text
    assert_problem(after, 401, "unauthenticated")
    assert_problem(again, 404, "token_not_found")


async def test_a_token_never_makes_one_that_may_do_more(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    key = await admin.project()
    reader = await admin.account(key, "owner", scopes=("read", "write"), token_project=key)

    wider = await gateway.post(
        f"{API}/me/tokens",
        json={"name": "x", "scopes": ["execute"], "project": key},
        headers=reader.headers,
    )
    unrestricted = await gateway.post(
        f"{API}/me/tokens", json={"name": "x", "scopes": ["read"]}, headers=reader.headers
    )
    narrower = await gateway.post(
        f"{API}/me/tokens",
        json={"name": "x", "scopes": ["read"], "project": key},
        headers=reader.headers,
    )

    assert_problem(wider, 403, "forbidden")
    assert_problem(unrestricted, 403, "forbidden")
    assert narrower.status_code == 201, narrower.text


async def test_a_read_only_token_makes_no_token(gateway: httpx.AsyncClient, admin: Admin) -> None:
    account = await admin.account(None, None, scopes=("read",))

    response = await gateway.post(
        f"{API}/me/tokens", json={"name": "x", "scopes": ["read"]}, headers=account.headers
    )

    body = assert_problem(response, 403, "forbidden")
    assert "'write'" in body["detail"], body


@pytest.mark.parametrize(
    ("body", "where"),
    [
        pytest.param({"name": "x", "scopes": []}, "scopes", id="no-scope"),
        pytest.param({"name": "x", "scopes": ["admin"]}, "scopes", id="admin-scope"),
        pytest.param({"name": "", "scopes": ["read"]}, "name", id="empty-name"),
        pytest.param({"name": "x", "scopes": ["read"], "project": "nope"}, "project", id="bad-key"),
        pytest.param(
            {"name": "x", "scopes": ["read"], "project": "NOSUCHPROJECT"}, "project", id="unknown"
        ),
        pytest.param(
            {"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
            id="expired",
        ),
    ],
)
async def test_an_invalid_token_request_is_422(
    gateway: httpx.AsyncClient, admin: Admin, body: dict[str, Any], where: str
) -> None:
    account = await admin.account(None, None)

    response = await gateway.post(f"{API}/me/tokens", json=body, headers=account.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", where], problem


async def test_a_token_for_a_project_the_user_is_not_a_member_of_is_422(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(await admin.project(), "editor")
    elsewhere = await admin.project()

    response = await gateway.post(
        f"{API}/me/tokens",
        json={"name": "x", "scopes": ["read"], "project": elsewhere},
        headers=account.headers,
    )

    assert_problem(response, 422, "validation_error")


async def test_a_token_line_of_the_settings_has_no_tokens_of_its_own(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    listed = await gateway.get(f"{API}/me/tokens", headers=bearer(tokens["root"]))
    made = await gateway.post(
        f"{API}/me/tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer(tokens["root"])
    )

    assert listed.json() == {"items": [], "next_cursor": None}
    assert_problem(made, 403, "forbidden")


async def test_an_admin_manages_a_service_accounts_tokens(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    service = await admin.user(kind="service")
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    made = await admin.token(service["id"], scopes=("read",), expires_at=expires.isoformat())
    listed = await gateway.get(f"{API}/users/{service['id']}/tokens", headers=admin.headers)
    revoked = await gateway.delete(
        f"{API}/users/{service['id']}/tokens/{made['id']}", headers=admin.headers
    )
    after = await gateway.get(f"{API}/users/{service['id']}/tokens", headers=admin.headers)

    assert datetime.fromisoformat(made["expires_at"]) == expires
    assert [t["id"] for t in listed.json()["items"]] == [made["id"]]
    assert revoked.status_code == 204, revoked.text
    assert after.json()["items"] == []


async def test_a_persons_tokens_are_its_own_to_make(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    person = await admin.user(kind="human")

    response = await gateway.post(
        f"{API}/users/{person['id']}/tokens",
        json={"name": "x", "scopes": ["read"]},
        headers=admin.headers,
    )

    assert_problem(response, 409, "not_a_service_account")


async def test_only_an_admin_manages_other_users_tokens(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    account = await admin.account(None, None)
    service = await admin.user(kind="service")

    response = await gateway.get(f"{API}/users/{service['id']}/tokens", headers=account.headers)

    assert_problem(response, 403, "forbidden")
