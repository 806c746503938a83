"""The queue: one execution runs at a time, the rest wait in posting order with their
positions; GET /executions/current names the running one; a full queue is 429. The queue is one
for every project: a position counts every project's executions waiting ahead."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
from tests.executor.conftest import (
    ExecutorSettingsFactory,
    StartExecutor,
    StartExecutorProcess,
)
from tests.executor.executor_api import (
    API,
    FINISHED,
    JSON,
    assert_ended,
    execution_body,
    get_execution,
    post_execution,
    wait_finished,
    wait_hanging_started,
    wait_until,
)
from tests.executor.repositories import Repos, pid_files

from testops_kit.testing import assert_problem, wait_for


async def list_all(client: httpx.AsyncClient) -> list[JSON]:
    response = await client.get(f"{API}/executions", params={"limit": 500})
    assert response.status_code == 200, response.text
    items: list[JSON] = response.json()["items"]
    return items


def assert_positions_are_the_queue(items: list[JSON]) -> None:
    """Pending executions are numbered 1, 2, … oldest first; no other has a position."""
    pending = sorted((e for e in items if e["status"] == "pending"), key=lambda e: e["created_at"])
    assert [e["position"] for e in pending] == list(range(1, len(pending) + 1)), items
    assert all(e["position"] is None for e in items if e["status"] != "pending"), items


async def test_three_executions_posted_together_run_one_after_another_in_order(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)

    posted = [await post_execution(client, repos.passing) for _ in range(3)]

    assert [e["position"] for e in posted] == [1, 2, 3]
    assert_positions_are_the_queue(await list_all(client))
    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    ids = {e["id"] for e in posted}
    most_running = 0
    seen_running: list[str] = []

    async def all_finished() -> bool | None:
        nonlocal most_running
        items = await list_all(client)
        running = [e["id"] for e in items if e["status"] == "running"]
        most_running = max(most_running, len(running))
        seen_running.extend(i for i in running if i in ids and i not in seen_running)
        assert_positions_are_the_queue(items)
        mine = [e for e in items if e["id"] in ids]
        return True if all(e["status"] in FINISHED for e in mine) else None

    await wait_for(all_finished, within=120, interval=0.1)

    assert most_running == 1
    finished = {e["id"]: e for e in await list_all(client)}
    for execution in posted:
        await assert_ended(client, finished[execution["id"]], "completed", "passed")
    # Each started after the one before it had finished, in the order they were posted.
    runs = [finished[e["id"]] for e in posted]
    for before, after in zip(runs, runs[1:], strict=False):
        assert datetime.fromisoformat(after["started_at"]) >= datetime.fromisoformat(
            before["finished_at"]
        )
    assert seen_running == [e["id"] for e in posted if e["id"] in seen_running]
    assert len({e["run_id"] for e in runs}) == 3


async def test_positions_count_only_the_executions_still_waiting(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    first, second, third = [await post_execution(client, repos.passing) for _ in range(3)]

    await client.post(f"{API}/executions/{first['id']}/cancel")

    items = {e["id"]: e for e in await list_all(client)}
    assert items[first["id"]]["position"] is None
    assert items[second["id"]]["position"] == 1
    assert items[third["id"]]["position"] == 2
    single = await client.get(f"{API}/executions/{third['id']}")
    assert single.json()["position"] == 2
    for execution in (second, third, blocker):
        await client.post(f"{API}/executions/{execution['id']}/cancel")
    await wait_finished(client, blocker["id"])


async def test_current_is_the_running_execution_and_no_content_when_idle(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    idle = await client.get(f"{API}/executions/current")
    assert idle.status_code == 204
    assert idle.content == b""

    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)

    current = await client.get(f"{API}/executions/current")

    assert current.status_code == 200, current.text
    assert current.headers["content-type"].startswith("application/json")
    body = current.json()
    assert body["id"] == blocker["id"]
    assert (body["status"], body["phase"]) == ("running", "testing")
    await client.post(f"{API}/executions/{waiting['id']}/cancel")
    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    await wait_finished(client, blocker["id"])
    assert (await client.get(f"{API}/executions/current")).status_code == 204


async def test_a_full_queue_is_queue_full_with_retry_after(
    start_executor: StartExecutor, repos: Repos, pid_dir: Path
) -> None:
    async with start_executor("small-queue", queue_limit=1) as executor:
        client = executor.client
        known = pid_files(pid_dir)
        running = await post_execution(client, repos.hanging)
        await wait_hanging_started(pid_dir, known)
        waiting = await post_execution(client, repos.passing)

        response = await client.post(
            f"{API}/executions",
            json={"repo_url": repos.passing.url, "suite": {"name": "tests/"}},
        )

        assert_problem(response, 429, "queue_full")
        assert int(response.headers["retry-after"]) > 0
        assert len(await list_all(client)) == 2
        # A place freed is a place taken.
        await client.post(f"{API}/executions/{waiting['id']}/cancel")
        again = await post_execution(client, repos.passing)
        assert again["position"] == 1
        await client.post(f"{API}/executions/{again['id']}/cancel")
        await client.post(f"{API}/executions/{running['id']}/cancel")
        await wait_finished(client, running["id"])


async def test_concurrent_posts_never_queue_more_than_the_limit(
    start_executor: StartExecutor, repos: Repos, pid_dir: Path
) -> None:
    async with start_executor("queue-race", queue_limit=2) as executor:
        client = executor.client
        known = pid_files(pid_dir)
        running = await post_execution(client, repos.hanging)
        await wait_hanging_started(pid_dir, known)

        responses = await asyncio.gather(
            *(
                client.post(f"{API}/executions", json=execution_body(repos.passing))
                for _ in range(20)
            )
        )

        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        try:
            assert len(accepted) == 2, [r.status_code for r in responses]
            assert sorted(r.status_code for r in responses) == [202] * 2 + [429] * 18
        finally:
            for execution_id in [*accepted, running["id"]]:
                await client.post(f"{API}/executions/{execution_id}/cancel")
            await wait_finished(client, running["id"])


async def test_an_execution_posted_to_an_idle_executor_starts_without_waiting_for_a_poll(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
) -> None:
    """The slot is woken once the new execution can be seen by its claim: with the idle
    executor's polling ten minutes apart, each execution still leaves the queue at once."""
    settings = await executor_settings("idle", poll_interval_s=600)
    client = (await start_executor_process(settings)).client
    for _ in range(8):
        created = await post_execution(client, repos.no_tests)
        await wait_until(client, created["id"], lambda e: e["status"] != "pending", within=20)
        await wait_finished(client, created["id"])


async def test_current_is_the_running_execution_of_the_requests_project_only(
    client: httpx.AsyncClient,
    shop: httpx.AsyncClient,
    shop_root: str,
    repos: Repos,
    pid_dir: Path,
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)

    in_shop = await shop.get(f"{shop_root}/executions/current")
    in_default = await client.get(f"{API}/executions/current")

    assert in_shop.status_code == 204, in_shop.text
    assert in_shop.content == b""
    assert in_default.status_code == 200
    assert in_default.json()["id"] == blocker["id"]
    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    await wait_finished(client, blocker["id"])


async def test_a_position_counts_the_executions_of_every_project_waiting_ahead(
    client: httpx.AsyncClient,
    shop: httpx.AsyncClient,
    shop_root: str,
    repos: Repos,
    pid_dir: Path,
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    ahead = await post_execution(client, repos.passing)

    waiting = await post_execution(shop, repos.passing, root=shop_root)

    assert waiting["position"] == 2
    listed = (await shop.get(f"{shop_root}/executions")).json()["items"]
    assert [(e["id"], e["position"]) for e in listed] == [(waiting["id"], 2)]
    await client.post(f"{API}/executions/{ahead['id']}/cancel")
    moved_up = await get_execution(shop, waiting["id"], root=shop_root)
    assert moved_up["position"] == 1
    await shop.post(f"{shop_root}/executions/{waiting['id']}/cancel")
    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    await wait_finished(client, blocker["id"])
    assert waiting["id"] not in (await client.get(f"{API}/executions")).text
