"""What a caller may do in a project, at the gateway, for forwarded requests: its role's scopes
within its token's; not a member is 404 as a project that does not exist; a missing scope is
403 naming it; a revoked or expired token, or a deactivated user, is 401 on the next request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import bearer
from tests.gateway.identity import API, Admin, new_key

from testops_gateway.access import authorize
from testops_gateway.callers import Caller, ProjectAccess
from testops_kit.principal import Principal
from testops_kit.testing import assert_problem, wait_for

UNRUNNABLE_EXECUTION: dict[str, Any] = {"repo_url": "ext::sh -c true", "suite": {"name": "t/"}}
"""A body the executor refuses (422 `repo_not_allowed`) before it queues anything: a 422 means
the gateway let the request through."""
PASSED = "passed"

READ, WRITE, EXECUTE = "read", "write", "execute"


def tag() -> dict[str, str]:
    return {"name": f"tag-{new_key().lower()}"}


async def attempt(
    gateway: httpx.AsyncClient, key: str | None, action: str, headers: dict[str, str]
) -> httpx.Response:
    """Read tags, make a tag, or start an execution, in ``key`` (None: the unscoped form)."""
    root = f"{API}/projects/{key}" if key else API
    if action == READ:
        return await gateway.get(f"{root}/tags", headers=headers)
    if action == WRITE:
        return await gateway.post(f"{root}/tags", json=tag(), headers=headers)
    return await gateway.post(f"{root}/executions", json=UNRUNNABLE_EXECUTION, headers=headers)


def outcome(response: httpx.Response) -> str:
    """`passed` when the service answered; else the gateway's status and code."""
    if response.status_code in (200, 201) or (
        response.status_code == 422 and response.json().get("code") == "repo_not_allowed"
    ):
        return PASSED
    body = response.json()
    return f"{response.status_code} {body['code']}"


@pytest.fixture
async def project(admin: Admin) -> str:
    return await admin.project()


MATRIX = [
    ("viewer", {READ: PASSED, WRITE: "403 forbidden", EXECUTE: "403 forbidden"}),
    ("editor", {READ: PASSED, WRITE: PASSED, EXECUTE: PASSED}),
    ("owner", {READ: PASSED, WRITE: PASSED, EXECUTE: PASSED}),
]


@pytest.mark.parametrize(("role", "expected"), MATRIX, ids=[role for role, _ in MATRIX])
async def test_a_members_role_decides_what_it_may_do_in_the_project(
    gateway: httpx.AsyncClient, admin: Admin, project: str, role: str, expected: dict[str, str]
) -> None:
    account = await admin.account(project, role)

    seen = {
        action: outcome(await attempt(gateway, project, action, account.headers))
        for action in expected
    }

    assert seen == expected


async def test_an_instance_admin_may_do_everything_in_a_project_it_is_no_member_of(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    account = await admin.account(None, None, instance_role="admin")

    seen = {a: outcome(await attempt(gateway, project, a, account.headers)) for a in (READ, WRITE)}

    assert seen == {READ: PASSED, WRITE: PASSED}


async def test_a_member_of_another_project_only_finds_no_project(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    elsewhere = await admin.project()
    account = await admin.account(elsewhere, "owner")

    read = await attempt(gateway, project, READ, account.headers)
    write = await attempt(gateway, project, WRITE, account.headers)

    assert_problem(read, 404, "project_not_found")
    assert_problem(write, 404, "project_not_found")


async def test_a_project_that_does_not_exist_is_404_even_for_an_admin(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await gateway.get(f"{API}/projects/{new_key()}/tags", headers=bearer(tokens["root"]))

    assert_problem(response, 404, "project_not_found")


@pytest.mark.parametrize("key", ["shop", "A", "X" * 17, "SHOP%00"])
async def test_a_path_key_that_cannot_be_a_project_is_404(
    gateway: httpx.AsyncClient, tokens: dict[str, str], key: str
) -> None:
    response = await gateway.get(f"{API}/projects/{key}/tags", headers=bearer(tokens["root"]))

    assert_problem(response, 404, "project_not_found")


async def test_a_token_with_fewer_scopes_than_its_users_role_is_held_to_them(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    account = await admin.account(project, "owner", scopes=(READ,))

    read = await attempt(gateway, project, READ, account.headers)
    write = await attempt(gateway, project, WRITE, account.headers)

    assert outcome(read) == PASSED
    body = assert_problem(write, 403, "forbidden")
    assert "'write'" in body["detail"], body
    assert 'scope="write"' in write.headers["www-authenticate"]


async def test_a_token_restricted_to_a_project_acts_there_and_nowhere_else(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    other = await admin.project()
    account = await admin.account(project, "editor", token_project=project)
    await admin.member(other, account.id, "editor")

    there = await attempt(gateway, project, WRITE, account.headers)
    elsewhere = await attempt(gateway, other, READ, account.headers)
    unscoped = await gateway.post(f"{API}/tags", json=tag(), headers=account.headers)

    assert outcome(there) == PASSED
    assert_problem(elsewhere, 404, "project_not_found")
    assert outcome(unscoped) == PASSED, "unscoped paths act in the token's project"


async def test_the_unscoped_form_acts_in_the_default_project(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    member = await admin.account(project, "editor")
    default_member = await admin.account("DEFAULT", "viewer")

    not_in_default = await attempt(gateway, None, READ, member.headers)
    viewer_read = await attempt(gateway, None, READ, default_member.headers)
    viewer_write = await attempt(gateway, None, WRITE, default_member.headers)

    assert_problem(not_in_default, 404, "project_not_found")
    assert outcome(viewer_read) == PASSED
    assert_problem(viewer_write, 403, "forbidden")


async def test_a_revoked_token_is_refused_on_its_next_request(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    account = await admin.account(project, "editor")
    assert outcome(await attempt(gateway, project, READ, account.headers)) == PASSED

    revoked = await gateway.delete(
        f"{API}/users/{account.id}/tokens/{account.token_id}", headers=admin.headers
    )
    response = await attempt(gateway, project, READ, account.headers)

    assert revoked.status_code == 204, revoked.text
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_expired_token_is_refused(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    user = await admin.user()
    await admin.member(project, user["id"], "editor")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    token = await admin.token(user["id"], expires_at=soon)
    headers = bearer(token["token"])

    async def refused() -> httpx.Response | None:
        response = await attempt(gateway, project, READ, headers)
        return response if response.status_code == 401 else None

    response = await wait_for(refused, within=10, interval=0.2)

    assert_problem(response, 401, "unauthenticated")


async def test_a_deactivated_users_token_is_refused_on_its_next_request(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    account = await admin.account(project, "owner")
    assert outcome(await attempt(gateway, project, READ, account.headers)) == PASSED

    await admin.deactivate(account.id)
    response = await attempt(gateway, project, READ, account.headers)

    assert_problem(response, 401, "unauthenticated")


async def test_a_write_in_an_archived_project_is_409_and_a_read_still_works(
    gateway: httpx.AsyncClient, admin: Admin, project: str
) -> None:
    account = await admin.account(project, "editor")
    archived = await gateway.delete(f"{API}/projects/{project}", headers=admin.headers)

    read = await attempt(gateway, project, READ, account.headers)
    write = await attempt(gateway, project, WRITE, account.headers)

    assert archived.status_code == 204, archived.text
    assert outcome(read) == PASSED
    assert_problem(write, 409, "project_archived")


async def test_a_token_line_of_the_settings_is_an_admin_in_any_project(
    gateway: httpx.AsyncClient, tokens: dict[str, str], project: str
) -> None:
    writer = bearer(tokens["writer"])

    write = await attempt(gateway, project, WRITE, writer)
    execute = await attempt(gateway, project, EXECUTE, writer)

    assert outcome(write) == PASSED
    assert_problem(execute, 403, "forbidden")


# --- the principal forwarded ---------------------------------------------------------------


def caller(**fields: Any) -> Caller:
    values: dict[str, Any] = {
        "via": "token",
        "subject": "7",
        "name": "alice",
        "instance_role": "user",
        "user_id": 7,
        "token_id": 3,
        "token_name": "ci",
        "token_scopes": frozenset({READ, WRITE}),
        "project": ProjectAccess(key="SHOP", exists=True, role="owner"),
    }
    values.update(fields)
    return Caller(**values)


def test_the_principal_carries_the_user_the_project_its_role_and_the_effective_scopes() -> None:
    principal = authorize(caller(), method="POST", path=f"{API}/projects/SHOP/tags")

    assert principal == Principal(
        subject="7",
        name="alice",
        project="SHOP",
        role="owner",
        scopes=frozenset({READ, WRITE}),
    )


def test_a_session_carries_every_scope_of_its_role() -> None:
    session = caller(via="session", token_id=None, token_name=None, token_scopes=None)

    principal = authorize(session, method="GET", path=f"{API}/projects/SHOP/tags")

    assert isinstance(principal, Principal)
    assert principal.scopes == frozenset({READ, WRITE, EXECUTE, "manage"})


def test_an_instance_admin_is_forwarded_as_admin_whatever_its_membership() -> None:
    admin = caller(
        instance_role="admin",
        token_scopes=frozenset({READ}),
        project=ProjectAccess(key="SHOP", exists=True, role="viewer"),
    )

    principal = authorize(admin, method="GET", path=f"{API}/tags")

    assert isinstance(principal, Principal)
    assert (principal.role, principal.scopes) == ("admin", frozenset({READ}))
