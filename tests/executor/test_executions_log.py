"""GET /executions/{id}/log: the output by byte offset, followed live, kept up to a cap; the
log of another project's execution is not there."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from tests.executor.conftest import ExecutorSettingsFactory, StartExecutor, StartExecutorProcess
from tests.executor.executor_api import (
    API,
    JSON,
    assert_ended,
    get_execution,
    post_execution,
    run_to_end,
    wait_finished,
    wait_hanging_started,
)
from tests.executor.repositories import NOISY_SUITE, SLOW_SUITE, Repos, pid_files

from testops_kit.testing import assert_problem


def log_url(execution: JSON) -> str:
    return f"{API}/executions/{execution['id']}/log"


async def test_the_log_of_a_finished_execution_is_its_whole_output(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.passing)

    response = await client.get(log_url(execution))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-more-data"] == "false"
    assert int(response.headers["x-log-size"]) == execution["log_size"] == len(response.content)
    text = response.text
    assert text.startswith("[testops] $ git clone --depth 1 ")
    assert "[testops] $ uv sync --frozen" in text
    assert "[testops] $ uv run --frozen --with allure-pytest pytest tests/ --alluredir " in text
    assert text.count("[testops] exit 0 after ") == 3
    assert "3 passed" in text
    assert f"[testops] uploaded: run {execution['run_id']}" in text


async def test_offset_returns_the_log_from_that_byte(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.passing)
    whole = (await client.get(log_url(execution))).content
    size = len(whole)

    for offset in [*range(0, size, 97), size - 1, size, size + 10]:
        response = await client.get(log_url(execution), params={"offset": offset})

        assert response.status_code == 200, response.text
        assert response.content == whole[offset:], offset
        assert response.headers["x-log-size"] == str(size)
        assert response.headers["x-more-data"] == "false"


async def test_a_negative_offset_is_rejected(client: httpx.AsyncClient, repos: Repos) -> None:
    execution = await run_to_end(client, repos.no_python)

    response = await client.get(log_url(execution), params={"offset": -1})

    assert_problem(response, 422, "validation_error")


async def test_the_log_of_an_unknown_execution_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/executions/{uuid.uuid4()}/log")

    assert_problem(response, 404, "execution_not_found")


async def test_the_log_of_a_pending_execution_is_empty_with_more_to_come(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)

    response = await client.get(log_url(waiting))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-log-size"] == "0"
    assert response.headers["x-more-data"] == "true"
    running = await client.get(log_url(blocker))
    assert running.headers["x-more-data"] == "true"
    assert int(running.headers["x-log-size"]) == len(running.content) > 0
    for execution in (waiting, blocker):
        await client.post(f"{API}/executions/{execution['id']}/cancel")
    await wait_finished(client, blocker["id"])


async def test_follow_streams_until_the_execution_ends(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await post_execution(client, repos.passing)

    async with client.stream("GET", log_url(execution), params={"follow": "true"}) as response:
        assert response.status_code == 200
        assert response.headers["x-more-data"] == "true"
        streamed = b"".join([chunk async for chunk in response.aiter_bytes()])

    ended = await get_execution(client, execution["id"])
    await assert_ended(client, ended, "completed", "passed")
    assert streamed == (await client.get(log_url(execution))).content
    text = streamed.decode()
    assert text.count("[testops] exit 0 after ") == 3
    assert "3 passed" in text


async def test_follow_over_http_sends_the_log_while_the_execution_runs(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
) -> None:
    service = await start_executor_process(await executor_settings("follow"))
    client = service.client
    execution = await post_execution(client, repos.passing, SLOW_SUITE)
    chunks: list[bytes] = []
    status_when_received: list[str] = []

    async with asyncio.timeout(60):
        async with client.stream("GET", log_url(execution), params={"follow": "true"}) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                status_when_received.append(
                    (await get_execution(client, execution["id"]))["status"]
                )

    ended = await get_execution(client, execution["id"])
    await assert_ended(client, ended, "completed", "passed")
    assert "running" in status_when_received, status_when_received
    assert len(chunks) > 1
    streamed = b"".join(chunks)
    assert streamed == (await client.get(log_url(execution))).content
    text = streamed.decode()
    assert text.count("[testops] exit 0 after ") == 3
    assert "1 passed" in text


async def test_follow_of_a_finished_execution_returns_the_log_at_once(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.no_python)

    response = await client.get(log_url(execution), params={"follow": "true", "offset": 5})

    assert response.status_code == 200
    assert response.headers["x-more-data"] == "false"
    assert response.content == (await client.get(log_url(execution))).content[5:]


async def test_a_log_past_its_cap_is_cut_and_the_execution_still_completes(
    start_executor: StartExecutor, results: httpx.AsyncClient, repos: Repos
) -> None:
    cap = 2048
    async with start_executor("small-log", log_max_bytes=cap) as executor:
        client = executor.client
        execution = await run_to_end(client, repos.passing, NOISY_SUITE, params={"s": True})

        await assert_ended(client, execution, "completed", "passed")
        assert execution["log_truncated"] is True
        # Output that arrives while a flush is in flight escapes the cap (see the xfail test in
        # test_execution_log_cap.py): tighten to `<= cap` once that is fixed.
        assert 0 < execution["log_size"] <= 2 * cap
        response = await client.get(log_url(execution))
        assert len(response.content) == execution["log_size"]
        assert response.headers["x-log-size"] == str(execution["log_size"])
        assert execution["run_id"] is not None
        run = (await results.get(f"{API}/runs/{execution['run_id']}")).json()
        assert run["stats"]["passed"] == 1


async def test_the_log_of_another_projects_execution_is_not_found(
    client: httpx.AsyncClient, shop: httpx.AsyncClient, shop_root: str, repos: Repos
) -> None:
    shop_one = await run_to_end(shop, repos.no_python, root=shop_root)

    once = await client.get(log_url(shop_one))
    followed = await client.get(log_url(shop_one), params={"follow": "true"})

    assert_problem(once, 404, "execution_not_found")
    assert_problem(followed, 404, "execution_not_found")
    own = await shop.get(f"{shop_root}/executions/{shop_one['id']}/log")
    assert own.status_code == 200
    assert own.content
