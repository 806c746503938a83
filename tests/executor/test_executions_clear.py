"""DELETE /executions: the project's finished executions go, with their logs; pending and
running ones stay, and other projects' are not touched."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.executor.executor_api import (
    API,
    get_execution,
    log_text,
    post_execution,
    run_to_end,
    wait_finished,
    wait_hanging_started,
)
from tests.executor.repositories import Repos, pid_files

from testops_kit.testing import assert_problem


async def test_clear_removes_finished_executions_and_keeps_pending_and_running_ones(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    failed = await run_to_end(client, repos.no_python)
    completed = await run_to_end(client, repos.no_tests)
    known = pid_files(pid_dir)
    running = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    cancelled = await post_execution(client, repos.passing)
    await client.post(f"{API}/executions/{cancelled['id']}/cancel")
    pending = await post_execution(client, repos.passing)

    response = await client.delete(f"{API}/executions")

    assert response.status_code == 204
    assert response.content == b""
    left = (await client.get(f"{API}/executions")).json()["items"]
    assert [e["id"] for e in left] == [pending["id"], running["id"]]
    assert [e["status"] for e in left] == ["pending", "running"]
    for gone in (failed, completed, cancelled):
        assert_problem(
            await client.get(f"{API}/executions/{gone['id']}"), 404, "execution_not_found"
        )
        assert_problem(
            await client.get(f"{API}/executions/{gone['id']}/log"), 404, "execution_not_found"
        )
    # What stayed goes on as before: its log is still there.
    assert (await get_execution(client, running["id"]))["status"] == "running"
    assert (await client.get(f"{API}/executions/{running['id']}/log")).content
    for execution in (pending, running):
        await client.post(f"{API}/executions/{execution['id']}/cancel")
    await wait_finished(client, running["id"])


async def test_clear_with_nothing_finished_is_no_content(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{API}/executions")

    assert response.status_code == 204
    assert (await client.get(f"{API}/executions")).json()["items"] == []


async def test_clear_removes_only_the_finished_executions_of_the_requests_project(
    client: httpx.AsyncClient, shop: httpx.AsyncClient, shop_root: str, repos: Repos
) -> None:
    default_one = await run_to_end(client, repos.no_python)
    shop_one = await run_to_end(shop, repos.no_python, root=shop_root)

    response = await shop.delete(f"{shop_root}/executions")

    assert response.status_code == 204, response.text
    assert (await shop.get(f"{shop_root}/executions")).json()["items"] == []
    assert_problem(
        await shop.get(f"{shop_root}/executions/{shop_one['id']}"), 404, "execution_not_found"
    )
    left = (await client.get(f"{API}/executions")).json()["items"]
    assert [e["id"] for e in left] == [default_one["id"]]
    assert await log_text(client, default_one["id"])
