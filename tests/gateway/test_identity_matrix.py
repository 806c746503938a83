"""Who may do what, table-driven: each kind of caller × each resource family × read and write,
through the gateway to the real services. A cell is either ``through`` (the gateway let the
request reach the route: the answer is the service's own, whatever it is) or the refusal the
contract gives (status and code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import bearer
from tests.gateway.identity import API, Admin

from testops_kit.testing import wait_for

THROUGH = "through"
NOT_FOUND = "404 project_not_found"
FORBIDDEN = "403 forbidden"
UNAUTHENTICATED = "401 unauthenticated"
MISSING = 987654321
"""An id no entity has: a request that gets through is answered by its route (a 404 of its own)."""

Request = Callable[[str], tuple[str, str, dict[str, Any]]]
"""The project's key → (method, path, httpx keyword arguments)."""


def get(path: str) -> Request:
    return lambda key: ("GET", path.format(root=f"{API}/projects/{key}", key=key), {})


def post(path: str, **kwargs: Any) -> Request:
    return lambda key: ("POST", path.format(root=f"{API}/projects/{key}", key=key), kwargs)


def put(path: str, **kwargs: Any) -> Request:
    return lambda key: ("PUT", path.format(root=f"{API}/projects/{key}", key=key), kwargs)


FAMILIES: dict[str, tuple[Request, Request | None]] = {
    "cases": (get("{root}/test-cases"), post("{root}/test-cases", json={"name": ""})),
    "suites": (get("{root}/suites"), post("{root}/suites", json={"name": ""})),
    "tags": (get("{root}/tags"), post("{root}/tags", json={"name": ""})),
    "case attachments": (
        get(f"{{root}}/test-cases/{MISSING}/attachments"),
        post(f"{{root}}/test-cases/{MISSING}/attachments", files={"file": ("a.txt", b"a")}),
    ),
    "runs": (get("{root}/runs"), post("{root}/runs", data={"run_name": ""})),
    "results": (get(f"{{root}}/results/{MISSING}"), None),
    "attachments": (get(f"{{root}}/attachments/{MISSING}"), None),
    "tests": (get("{root}/tests/0123456789abcdef/history"), None),
    "analytics": (get("{root}/analytics/trends?name=nightly"), None),
    "reports": (get(f"{{root}}/runs/{MISSING}/report"), post(f"{{root}}/runs/{MISSING}/report")),
    "executions": (
        get("{root}/executions"),
        post("{root}/executions", json={"repo_url": "ext::sh -c true", "suite": {"name": "t/"}}),
    ),
    "members": (
        get(f"{API}/projects/{{key}}/members"),
        put(f"{API}/projects/{{key}}/members/{MISSING}", json={"role": "viewer"}),
    ),
    "tokens": (get(f"{API}/me/tokens"), post(f"{API}/me/tokens", json={"name": ""})),
    "audit": (get(f"{API}/audit?project={{key}}"), None),
}
"""Each family's read and write (None: it has no write). Bodies are invalid on purpose: a
request the gateway lets through is refused by its route (422), and nothing is made."""

OWNER_ONLY = {"members": (False, True), "audit": (True, False)}
"""Families whose (read, write) need a project's owner (`manage`) rather than a role's plain
scope; members of any role may read a project's members."""


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]


def expected(caller: str, family: str, write: bool) -> str:
    """The contract's answer for ``caller`` doing a read or write of ``family``."""
    if caller in ("revoked", "expired", "deactivated"):
        return UNAUTHENTICATED
    if family == "tokens":
        return THROUGH  # a caller's own tokens belong to no project
    if caller in ("outsider", "restricted elsewhere"):
        return NOT_FOUND
    if caller == "admin":
        return THROUGH
    needs_owner = OWNER_ONLY.get(family, (False, False))[1 if write else 0]
    if needs_owner:
        return THROUGH if caller == "owner" else FORBIDDEN
    if write and caller == "viewer":
        return FORBIDDEN
    return THROUGH


def outcome(response: httpx.Response) -> str:
    """``through``, or the gateway's refusal as ``<status> <code>``."""
    refusals = {"unauthenticated", "forbidden", "project_not_found", "csrf_failed"}
    if response.status_code in (401, 403, 404):
        code = response.json().get("code")
        if code in refusals:
            return f"{response.status_code} {code}"
    return THROUGH


async def callers(admin: Admin, gateway: httpx.AsyncClient, project: str) -> list[Caller]:
    """One caller of each kind, for ``project``."""
    elsewhere = await admin.project()
    made: list[Caller] = []
    for role in ("viewer", "editor", "owner"):
        account = await admin.account(project, role)
        made.append(Caller(role, account.headers))
    instance_admin = await admin.account(None, None, instance_role="admin")
    made.append(Caller("admin", instance_admin.headers))
    outsider = await admin.account(elsewhere, "owner")
    made.append(Caller("outsider", outsider.headers))
    restricted = await admin.account(project, "editor", token_project=elsewhere)
    await admin.member(elsewhere, restricted.id, "editor")
    made.append(Caller("restricted elsewhere", restricted.headers))
    revoked = await admin.account(project, "owner")
    answer = await gateway.delete(
        f"{API}/users/{revoked.id}/tokens/{revoked.token_id}", headers=admin.headers
    )
    assert answer.status_code == 204, answer.text
    made.append(Caller("revoked", revoked.headers))
    deactivated = await admin.account(project, "owner")
    await admin.deactivate(deactivated.id)
    made.append(Caller("deactivated", deactivated.headers))
    user = await admin.user()
    await admin.member(project, user["id"], "owner")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expiring = bearer((await admin.token(user["id"], expires_at=soon))["token"])

    async def expired() -> bool | None:
        answer = await gateway.get(f"{API}/me", headers=expiring)
        return True if answer.status_code == 401 else None

    await wait_for(expired, within=10, interval=0.2)
    made.append(Caller("expired", expiring))
    return made


CALLERS = [
    "viewer",
    "editor",
    "owner",
    "admin",
    "outsider",
    "restricted elsewhere",
    "revoked",
    "expired",
    "deactivated",
]


def test_the_table_names_every_kind_of_caller() -> None:
    assert {expected(c, "tags", False) for c in CALLERS} == {
        THROUGH,
        NOT_FOUND,
        UNAUTHENTICATED,
    }


@pytest.mark.parametrize("family", list(FAMILIES))
async def test_each_caller_gets_the_contracts_answer_for_every_resource_family(
    gateway: httpx.AsyncClient, admin: Admin, family: str
) -> None:
    project = await admin.project()
    read, write = FAMILIES[family]
    seen: dict[tuple[str, str], str] = {}
    want: dict[tuple[str, str], str] = {}
    for caller in await callers(admin, gateway, project):
        for action, request in (("read", read), ("write", write)):
            if request is None:
                continue
            method, path, kwargs = request(project)
            response = await gateway.request(method, path, headers=caller.headers, **kwargs)
            seen[caller.name, action] = outcome(response)
            want[caller.name, action] = expected(caller.name, family, action == "write")

    assert seen == want
