"""POST /executions/{id}/cancel: a pending execution is cancelled at once and never runs; a
running one has its whole process group stopped; a finished one is a conflict."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text, update
from tests.executor.conftest import Executor
from tests.executor.executor_api import (
    API,
    assert_ended,
    get_execution,
    log_text,
    post_execution,
    run_to_end,
    wait_finished,
    wait_gone,
    wait_hanging_started,
)
from tests.executor.repositories import Repos, pid_files

from testops_executor.models import Execution
from testops_kit.database import Database, utcnow
from testops_kit.testing import assert_problem, postgres_test_url, wait_for


async def test_cancel_of_a_running_execution_stops_its_process_group_within_the_grace(
    executor: Executor, client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    created = await post_execution(client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)

    response = await client.post(f"{API}/executions/{created['id']}/cancel")

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    # The heartbeat (at most 2 s apart) carries the request; then TERM, grace, KILL.
    within = 2 + executor.settings.kill_grace_s + 3
    execution = await wait_finished(client, created["id"], within=within)
    await assert_ended(client, execution, "cancelled", "cancelled", "cancelled_by_user")
    assert execution["run_id"] is None
    await wait_gone(pids, within=3)
    assert "cancelled on request" in await log_text(client, created["id"])


async def test_cancel_of_a_pending_execution_cancels_it_at_once_and_it_never_runs(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)
    assert waiting["position"] == 1

    response = await client.post(f"{API}/executions/{waiting['id']}/cancel")

    assert response.status_code == 202, response.text
    cancelled = response.json()
    assert (cancelled["status"], cancelled["outcome"], cancelled["failure_reason"]) == (
        "cancelled",
        "cancelled",
        "cancelled_by_user",
    )
    assert cancelled["position"] is None
    assert cancelled["finished_at"] is not None
    assert (await get_execution(client, waiting["id"]))["status"] == "cancelled"

    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    await wait_finished(client, blocker["id"])
    # The queue is taken oldest first: a later execution that ran proves it was passed over.
    later = await run_to_end(client, repos.no_tests)
    assert later["status"] == "completed"
    never_ran = await get_execution(client, waiting["id"])
    assert never_ran["status"] == "cancelled"
    assert never_ran["started_at"] is None
    assert never_ran["commit"] is None
    assert never_ran["log_size"] == 0


async def test_cancel_of_a_finished_execution_is_execution_finished(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.no_python)

    response = await client.post(f"{API}/executions/{execution['id']}/cancel")

    assert_problem(response, 409, "execution_finished")
    assert (await get_execution(client, execution["id"]))["status"] == "failed"


async def test_cancel_of_a_cancelled_execution_is_execution_finished(
    client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)
    await client.post(f"{API}/executions/{waiting['id']}/cancel")

    response = await client.post(f"{API}/executions/{waiting['id']}/cancel")

    assert_problem(response, 409, "execution_finished")
    await client.post(f"{API}/executions/{blocker['id']}/cancel")
    await wait_finished(client, blocker["id"])


async def test_cancel_of_an_unknown_execution_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/executions/{uuid.uuid4()}/cancel")

    assert_problem(response, 404, "execution_not_found")


@pytest.mark.skipif(
    postgres_test_url() is None,
    reason="SQLite serializes writers (BEGIN IMMEDIATE): no claim can come between",
)
async def test_cancel_racing_a_claim_never_marks_a_claimed_execution_cancelled(
    executor: Executor, client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)
    # Another executor process claims `waiting`, the way Slot.claim does, while the cancel
    # request is between its read and its write.
    other = Database(executor.settings.resolved_database_url)
    try:
        async with other.session(write=True) as claim:
            await claim.scalar(
                select(Execution)
                .where(Execution.id == waiting["id"], Execution.status == "pending")
                .with_for_update(skip_locked=True)
            )
            cancel = asyncio.create_task(client.post(f"{API}/executions/{waiting['id']}/cancel"))

            async def cancel_waits_for_the_row() -> bool | None:
                async with other.session() as observer:
                    waiting_on_lock = await observer.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND query ILIKE '%FROM executions%'"
                        )
                    )
                return True if waiting_on_lock else None

            await wait_for(cancel_waits_for_the_row, within=10)
            now = utcnow()
            await claim.execute(
                update(Execution)
                .where(Execution.id == waiting["id"])
                .values(
                    status="running",
                    phase="cloning",
                    started_at=now,
                    owner="build-agent-7.elsewhere.invalid:4242:0123456789ab",
                    lease_expires_at=now + timedelta(minutes=5),
                )
            )
        response = await cancel
    finally:
        await other.dispose()

    assert response.status_code == 202, response.text
    try:
        assert (await get_execution(client, waiting["id"]))["status"] == "running"
    finally:
        await client.post(f"{API}/executions/{blocker['id']}/cancel")
        await wait_finished(client, blocker["id"])


async def test_cancel_of_another_projects_execution_is_not_found_and_leaves_it(
    client: httpx.AsyncClient,
    shop: httpx.AsyncClient,
    shop_root: str,
    repos: Repos,
    pid_dir: Path,
) -> None:
    known = pid_files(pid_dir)
    blocker = await post_execution(client, repos.hanging)
    await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(client, repos.passing)

    for execution in (waiting, blocker):
        response = await shop.post(f"{shop_root}/executions/{execution['id']}/cancel")
        assert_problem(response, 404, "execution_not_found")

    assert (await get_execution(client, waiting["id"]))["status"] == "pending"
    running = await get_execution(client, blocker["id"])
    assert running["status"] == "running"
    for execution in (waiting, blocker):
        await client.post(f"{API}/executions/{execution['id']}/cancel")
    await wait_finished(client, blocker["id"])
