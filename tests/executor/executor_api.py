"""What a client of the executor API does in these tests: queue a repository's suite, poll it
until it ends, read its log; and how a test tells that a process is gone.

``root`` is the path form a helper uses: ``/api/v1`` (the principal's project) or
``/api/v1/projects/{key}`` (:func:`scoped`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.executor.repositories import HangingPids, Repo, pid_files

from testops_kit.principal import Principal
from testops_kit.testing import wait_for

API = "/api/v1"
JSON = dict[str, Any]
FINISHED = ("completed", "failed", "cancelled")

SHOP = "SHOP"
"""A project other than the default one."""


def scoped(project: str) -> str:
    """The root of the scoped path form of ``project``."""
    return f"{API}/projects/{project}"


def member_of(project: str, name: str = "alice") -> Principal:
    """An editor of ``project``, as the gateway vouches for one."""
    return Principal(
        subject=f"user-{name}",
        name=name,
        project=project,
        role="editor",
        scopes=frozenset({"read", "write", "execute"}),
    )


RUN_WITHIN_S = 90.0
"""Long enough for one execution on a warm uv cache, many times over."""


def execution_body(repo: Repo, suite: str = "tests/", **fields: Any) -> JSON:
    """A request body for ``repo`` on ``main``; ``params`` goes into ``suite``."""
    params = fields.pop("params", None)
    return {
        "repo_url": repo.url,
        "branch": "main",
        "suite": {"name": suite, **({"params": params} if params is not None else {})},
        **fields,
    }


async def post_execution(
    client: httpx.AsyncClient, repo: Repo, suite: str = "tests/", *, root: str = API, **fields: Any
) -> JSON:
    """Queue ``repo``'s ``suite`` (it must be accepted) and return the execution."""
    response = await client.post(f"{root}/executions", json=execution_body(repo, suite, **fields))
    assert response.status_code == 202, response.text
    execution: JSON = response.json()
    assert response.headers["location"] == f"{root}/executions/{execution['id']}"
    return execution


async def get_execution(client: httpx.AsyncClient, execution_id: str, *, root: str = API) -> JSON:
    response = await client.get(f"{root}/executions/{execution_id}")
    assert response.status_code == 200, response.text
    execution: JSON = response.json()
    return execution


async def log_text(client: httpx.AsyncClient, execution_id: str, *, root: str = API) -> str:
    response = await client.get(f"{root}/executions/{execution_id}/log")
    assert response.status_code == 200, response.text
    return response.text


async def wait_until(
    client: httpx.AsyncClient,
    execution_id: str,
    condition: Callable[[JSON], bool],
    *,
    within: float = RUN_WITHIN_S,
    interval: float = 0.1,
    root: str = API,
) -> JSON:
    """Poll the execution until ``condition`` holds; its log is in the error when it never
    does."""

    async def probe() -> JSON | None:
        execution = await get_execution(client, execution_id, root=root)
        return execution if condition(execution) else None

    try:
        return await wait_for(probe, within=within, interval=interval)
    except TimeoutError:
        execution = await get_execution(client, execution_id, root=root)
        log = await log_text(client, execution_id, root=root)
        raise AssertionError(
            f"execution never got there within {within} s: {execution}\n--- log ---\n{log}"
        ) from None


async def wait_finished(
    client: httpx.AsyncClient, execution_id: str, *, within: float = RUN_WITHIN_S, root: str = API
) -> JSON:
    return await wait_until(
        client, execution_id, lambda e: e["status"] in FINISHED, within=within, root=root
    )


async def wait_testing(client: httpx.AsyncClient, execution_id: str) -> JSON:
    """Until pytest runs (the phase after clone and sync)."""
    return await wait_until(
        client, execution_id, lambda e: e["status"] != "running" or e["phase"] == "testing"
    )


async def run_to_end(
    client: httpx.AsyncClient, repo: Repo, suite: str = "tests/", *, root: str = API, **fields: Any
) -> JSON:
    """Queue ``repo``'s ``suite`` and wait for the execution to end."""
    execution = await post_execution(client, repo, suite, root=root, **fields)
    return await wait_finished(client, execution["id"], root=root)


async def assert_ended(
    client: httpx.AsyncClient,
    execution: JSON,
    status: str,
    outcome: str,
    failure_reason: str | None = None,
    *,
    root: str = API,
) -> None:
    """The execution ended as ``status``/``outcome``/``failure_reason``; its log tells why
    not."""
    ended = (execution["status"], execution["outcome"], execution["failure_reason"])
    if ended != (status, outcome, failure_reason):
        log = await log_text(client, execution["id"], root=root)
        raise AssertionError(
            f"expected {(status, outcome, failure_reason)}, got {ended}: {execution}\n"
            f"--- log ---\n{log}"
        )
    assert execution["phase"] is None
    assert execution["position"] is None
    assert execution["finished_at"] is not None


async def get_run(results: httpx.AsyncClient, run_id: int) -> JSON:
    """A run as the results service reports it."""
    response = await results.get(f"{API}/runs/{run_id}")
    assert response.status_code == 200, response.text
    run: JSON = response.json()
    return run


async def run_test_names(results: httpx.AsyncClient, run_id: int) -> set[str]:
    response = await results.get(f"{API}/runs/{run_id}/results", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {item["name"] for item in response.json()["items"]}


# --- processes


def process_gone(pid: int) -> bool:
    """Whether ``pid`` runs nothing any more.

    An orphan killed with its group is re-parented to PID 1; where PID 1 does not reap (as in
    some containers) it stays a zombie: exited, holding only its exit status, so it counts as
    gone.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state in ("Z", "X")


async def wait_gone(pids: HangingPids, *, within: float) -> None:
    """Until the hanging run's pytest and its background ``sleep`` are both gone."""

    async def probe() -> bool | None:
        return True if process_gone(pids.pytest) and process_gone(pids.sleep) else None

    try:
        await wait_for(probe, within=within, interval=0.1)
    except TimeoutError:
        raise AssertionError(f"processes of the hanging run are still there: {pids}") from None


async def wait_hanging_started(pid_dir: Path, known: set[Path]) -> HangingPids:
    """Until a run of the hanging repository writes its pids (a file not in ``known``)."""

    async def probe() -> HangingPids | None:
        new = pid_files(pid_dir) - known
        return HangingPids.read(new.pop()) if new else None

    pids = await wait_for(probe, within=RUN_WITHIN_S, interval=0.1)
    assert not process_gone(pids.sleep)
    return pids
