"""GET /audit: every write (forwarded or the gateway's own) and every sign-in, with who did it,
newest first; an admin reads it all, an owner its project's; never a secret or a body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from tests.gateway.conftest import StartGateway
from tests.gateway.identity import (
    API,
    PASSWORD,
    Account,
    Admin,
    browser,
    csrf_header,
    new_username,
    sign_in,
)

from testops_gateway.models import AuditEvent
from testops_kit.database import Database
from testops_kit.testing import assert_problem, wait_for


async def audit_of(
    gateway: httpx.AsyncClient, admin: Admin, *, count: int, **params: Any
) -> list[dict[str, Any]]:
    """The newest events matching ``params``, once there are ``count`` of them (events are
    written just after their response)."""

    async def listed() -> list[dict[str, Any]] | None:
        response = await gateway.get(
            f"{API}/audit", params={"limit": 500, **params}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= count else None

    return await wait_for(listed, within=10)


@pytest.fixture
async def project(admin: Admin) -> str:
    return await admin.project()


@pytest.fixture
async def editor(admin: Admin, project: str) -> Account:
    return await admin.account(project, "editor")


async def test_a_forwarded_write_is_listed_with_its_actor_route_and_status(
    gateway: httpx.AsyncClient, admin: Admin, project: str, editor: Account
) -> None:
    secret_name = new_username("body-only")
    created = await gateway.post(
        f"{API}/projects/{project}/tags",
        json={"name": secret_name},
        headers={**editor.headers, "X-Request-ID": "audit-req-1"},
    )
    duplicate = await gateway.post(
        f"{API}/projects/{project}/tags", json={"name": secret_name}, headers=editor.headers
    )
    read = await gateway.get(f"{API}/projects/{project}/tags", headers=editor.headers)

    events = await audit_of(gateway, admin, count=2, actor=editor.username)

    assert (created.status_code, duplicate.status_code, read.status_code) == (201, 409, 200)
    newest, oldest = events
    assert [e["status"] for e in events] == [409, 201]
    assert oldest["actor"] == {"id": editor.id, "username": editor.username}
    assert oldest["token_id"] == editor.token_id
    assert oldest["project"] == project
    assert (oldest["method"], oldest["action"]) == ("POST", "create_tag")
    assert oldest["resource"] == f"/api/v1/projects/{project}/tags"
    assert oldest["path"].endswith("/tags")
    assert oldest["request_id"] == "audit-req-1"
    assert oldest["ip"] == "127.0.0.1"
    assert newest["at"] >= oldest["at"]
    text = str(events)
    assert editor.token not in text
    assert secret_name not in text, "bodies are never recorded"


async def test_the_gateways_own_writes_are_listed_too(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    user = await admin.user()
    await admin.member(project, user["id"], "viewer")

    events = await audit_of(gateway, admin, count=1, project=project, action="put_member")

    assert events[0]["path"] == "/api/v1/projects/{project_key}/members/{user_id}"
    assert events[0]["resource"] == f"/api/v1/projects/{project}/members/{user['id']}"
    assert events[0]["actor"] == {"id": None, "username": "token:root"}
    assert events[0]["status"] == 201


async def test_sign_ins_sign_outs_and_failures_are_listed_without_the_password(
    gateway: httpx.AsyncClient, admin: Admin
) -> None:
    person = await admin.user(kind="human", password=PASSWORD)
    async with browser(gateway) as client:
        failed = await client.post(
            f"{API}/auth/login",
            json={"username": person["username"], "password": "wrong password"},
        )
        csrf = await sign_in(client, person["username"])
        await client.post(f"{API}/auth/logout", headers=csrf_header(csrf))

    events = await audit_of(gateway, admin, count=3, actor=person["username"])

    assert failed.status_code == 401
    assert [(e["action"], e["status"]) for e in events] == [
        ("sign_out", 204),
        ("sign_in", 204),
        ("sign_in_failed", 401),
    ]
    assert events[1]["actor"]["id"] == person["id"]
    assert events[2]["actor"]["id"] is None
    assert "wrong password" not in str(events)
    assert PASSWORD not in str(events)


async def test_an_owner_reads_its_projects_events_only(
    gateway: httpx.AsyncClient, admin: Admin, project: str, editor: Account
) -> None:
    owner = await admin.account(project, "owner")
    other = await admin.project()
    stranger = await admin.account(other, "editor")
    await gateway.post(
        f"{API}/projects/{project}/tags", json={"name": new_username("t")}, headers=editor.headers
    )
    await gateway.post(
        f"{API}/projects/{other}/tags", json={"name": new_username("t")}, headers=stranger.headers
    )
    await audit_of(gateway, admin, count=1, project=other)

    async def own() -> list[dict[str, Any]] | None:
        response = await gateway.get(
            f"{API}/audit", params={"project": project}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items if any(e["action"] == "create_tag" for e in items) else None

    items = await wait_for(own, within=10)
    everything = await gateway.get(f"{API}/audit", headers=owner.headers)
    elsewhere = await gateway.get(f"{API}/audit", params={"project": other}, headers=owner.headers)
    as_editor = await gateway.get(
        f"{API}/audit", params={"project": project}, headers=editor.headers
    )

    assert {e["project"] for e in items} == {project}
    assert_problem(everything, 403, "forbidden")
    assert_problem(elsewhere, 404, "project_not_found")
    assert_problem(as_editor, 403, "forbidden")


async def test_the_log_is_paginated_newest_first_and_filtered_by_time(
    gateway: httpx.AsyncClient, admin: Admin, project: str, editor: Account
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    for _ in range(3):
        await gateway.post(
            f"{API}/projects/{project}/tags",
            json={"name": new_username("t")},
            headers=editor.headers,
        )
    events = await audit_of(gateway, admin, count=3, actor=editor.username)

    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(3):
        params = {"actor": editor.username, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await gateway.get(f"{API}/audit", params=params, headers=admin.headers)).json()
        pages += page["items"]
        cursor = page["next_cursor"]
    since = await gateway.get(
        f"{API}/audit",
        params={"actor": editor.username, "since": before.isoformat()},
        headers=admin.headers,
    )
    until = await gateway.get(
        f"{API}/audit",
        params={"actor": editor.username, "until": before.isoformat()},
        headers=admin.headers,
    )

    assert [e["id"] for e in pages] == [e["id"] for e in events]
    assert cursor is None
    assert len(since.json()["items"]) == 3
    assert until.json()["items"] == []


async def test_a_bad_cursor_or_time_is_422(gateway: httpx.AsyncClient, admin: Admin) -> None:
    cursor = await gateway.get(f"{API}/audit", params={"cursor": "x"}, headers=admin.headers)
    since = await gateway.get(f"{API}/audit", params={"since": "yesterday"}, headers=admin.headers)

    assert_problem(cursor, 422, "invalid_cursor")
    assert_problem(since, 422, "validation_error")


async def test_events_past_the_retention_are_pruned(
    start_gateway: StartGateway,
    admin: Admin,
    database_url_factory: Callable[[str], str],
) -> None:
    # The factory runs its own event loop on PostgreSQL: not on this one.
    url = await asyncio.to_thread(database_url_factory, "audit_retention")
    async with start_gateway(database_url=url) as gateway:
        await gateway.get(f"{API}/me", headers=admin.headers)  # migrated
    database = Database(url)
    try:
        async with database.session(write=True) as session:
            old = datetime.now(UTC) - timedelta(days=3)
            await session.execute(
                insert(AuditEvent),
                [
                    {"at": old, "method": "POST", "path": "/x", "action": "ancient", "status": 201},
                    {
                        "at": datetime.now(UTC),
                        "method": "POST",
                        "path": "/x",
                        "action": "recent",
                        "status": 201,
                    },
                ],
            )
    finally:
        await database.dispose()

    async with start_gateway(database_url=url, audit_retention_days=2) as gateway:
        root = Admin(gateway, admin.root_token)

        async def pruned() -> bool | None:
            response = await gateway.get(
                f"{API}/audit", params={"action": "ancient"}, headers=root.headers
            )
            return True if response.json()["items"] == [] else None

        await wait_for(pruned, within=10)
        recent = await gateway.get(
            f"{API}/audit", params={"action": "recent"}, headers=root.headers
        )

    assert len(recent.json()["items"]) == 1
