"""Executions whose executor died: ended as ``failed``/``lost`` when an executor starts (for its
own host's dead processes) or when their lease runs out (any host), and never run again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.executor.conftest import (
    Executor,
    ExecutorSettingsFactory,
    StartExecutorProcess,
    running_executor,
)
from tests.executor.executor_api import (
    API,
    JSON,
    assert_ended,
    get_execution,
    post_execution,
    run_to_end,
    wait_gone,
    wait_hanging_started,
    wait_until,
)
from tests.executor.repositories import HangingPids, Repos, pid_files

from testops_executor.main import MIGRATIONS
from testops_executor.models import Execution
from testops_executor.settings import ExecutorSettings
from testops_kit.database import Database, utcnow
from testops_kit.migrations import upgrade
from testops_kit.processes import pid_alive
from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.testing import postgres_test_url, wait_for

ELSEWHERE = "build-agent-7.elsewhere.invalid"
"""A host that is not this one: only the lease tells whether its executor lives."""


def dead_pid() -> int:
    """The id of a process of this host that has certainly exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert not pid_alive(child.pid)
    return child.pid


@pytest.fixture
def live_child() -> Iterator[subprocess.Popen[bytes]]:
    """A process of this host that lives for the test: another executor, as far as a start-up
    can tell."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


async def insert_running(
    database: Database, repos: Repos, *, owner: str, lease_left: timedelta
) -> str:
    """An execution as a claim leaves it, held by ``owner`` until ``lease_left`` from now."""
    now = utcnow()
    execution_id = str(uuid.uuid4())
    async with database.session(write=True) as session:
        session.add(
            Execution(
                id=execution_id,
                project=DEFAULT_PROJECT,
                status="running",
                phase="testing",
                repo_url=repos.passing.url,
                branch="main",
                suite_name="tests/",
                suite_params={},
                run_name="left running",
                timeout_s=3600,
                created_at=now - timedelta(minutes=1),
                started_at=now - timedelta(minutes=1),
                log_size=0,
                log_truncated=False,
                cancel_requested=False,
                owner=owner,
                lease_expires_at=now + lease_left,
            )
        )
    return execution_id


async def ended_at_start_up(client: httpx.AsyncClient, execution_id: str) -> JSON:
    """The execution once the starting worker's recovery has looked at it (the app answers
    while its worker starts)."""
    return await wait_until(client, execution_id, lambda e: e["status"] != "running", within=10)


async def left_running(settings: ExecutorSettings, repos: Repos, *, owner: str) -> str:
    """An execution ``owner`` holds, in the database of ``settings`` while no executor runs."""
    await upgrade(MIGRATIONS, settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    try:
        return await insert_running(database, repos, owner=owner, lease_left=timedelta(hours=1))
    finally:
        await database.dispose()


async def test_an_execution_left_running_by_a_dead_process_is_lost_when_an_executor_starts(
    executor_settings: ExecutorSettingsFactory, repos: Repos, warm_uv_cache: None
) -> None:
    settings = await executor_settings("restart")
    owner = f"{socket.gethostname()}:{await asyncio.to_thread(dead_pid)}:0123456789ab"
    left = await left_running(settings, repos, owner=owner)

    async with running_executor(settings) as executor:
        execution = await ended_at_start_up(executor.client, left)

        await assert_ended(executor.client, execution, "failed", "lost", "lease_expired")
        assert execution["error"]
        # It is never run again: the slot takes the next one.
        later = await run_to_end(executor.client, repos.no_tests)
        assert later["status"] == "completed"
        again = await get_execution(executor.client, left)
        assert again["started_at"] == execution["started_at"]
        assert again["log_size"] == 0


@pytest.mark.skipif(
    postgres_test_url() is None,
    reason="on SQLite one executor owns the database: whatever is running at start-up is lost",
)
async def test_an_execution_of_a_live_process_of_this_host_stays_running_when_an_executor_starts(
    executor_settings: ExecutorSettingsFactory,
    repos: Repos,
    live_child: subprocess.Popen[bytes],
    warm_uv_cache: None,
) -> None:
    settings = await executor_settings("restart-live")
    held = await left_running(
        settings, repos, owner=f"{socket.gethostname()}:{live_child.pid}:0123456789ab"
    )

    async with running_executor(settings) as executor:
        # An execution of its own ran: the worker's start-up recovery is behind it.
        await run_to_end(executor.client, repos.no_python)

        assert (await get_execution(executor.client, held))["status"] == "running"


async def test_an_execution_whose_lease_expired_is_reaped_as_lost_by_the_running_worker(
    executor: Executor, client: httpx.AsyncClient, repos: Repos
) -> None:
    # An execution of its own ran: the worker's start-up recovery is behind it.
    await run_to_end(client, repos.no_python)
    expired = await insert_running(
        executor.database,
        repos,
        owner=f"{ELSEWHERE}:4242:0123456789ab",
        lease_left=-timedelta(seconds=30),
    )
    held = await insert_running(
        executor.database,
        repos,
        owner=f"{ELSEWHERE}:4243:0123456789ab",
        lease_left=timedelta(minutes=5),
    )

    # The reaper looks every half lease.
    execution = await wait_until(
        client,
        expired,
        lambda e: e["status"] != "running",
        within=executor.settings.lease_s * 2,
    )

    await assert_ended(client, execution, "failed", "lost", "lease_expired")
    assert (await get_execution(client, held))["status"] == "running"


async def test_an_execution_of_an_executor_killed_mid_run_is_lost_when_it_starts_again(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("killed")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    created = await post_execution(service.client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)

    await service.kill()

    try:
        async with running_executor(settings) as restarted:
            execution = await ended_at_start_up(restarted.client, created["id"])

            await assert_ended(restarted.client, execution, "failed", "lost", "lease_expired")
            # The dead process's workspace is swept at start-up (by the worker, as it starts).
            workspaces = settings.resolved_workspace_dir

            async def swept() -> bool | None:
                return True if not any(workspaces.iterdir()) else None

            await wait_for(swept, within=10)
            later = await run_to_end(restarted.client, repos.no_tests)
            assert later["status"] == "completed"
    finally:
        stop_orphans(pids)


def stop_orphans(pids: HangingPids) -> None:
    """The hanging run's processes outlive an executor killed with ``kill -9``: its pytest's
    process group is stopped here, by the test that made it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pids.pytest), signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pids.sleep, signal.SIGKILL)


async def test_queued_executions_of_a_killed_executor_run_when_it_starts_again(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("killed-queue")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    blocker = await post_execution(service.client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)
    waiting = await post_execution(service.client, repos.passing)

    await service.kill()

    try:
        async with running_executor(settings) as restarted:
            lost = await ended_at_start_up(restarted.client, blocker["id"])
            assert lost["outcome"] == "lost"
            execution = await wait_until(
                restarted.client, waiting["id"], lambda e: e["status"] not in ("pending", "running")
            )
            await assert_ended(restarted.client, execution, "completed", "passed")
    finally:
        stop_orphans(pids)


async def test_the_log_of_a_lost_execution_keeps_what_was_written(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("killed-log")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    created = await post_execution(service.client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)
    await wait_until(service.client, created["id"], lambda e: e["log_size"] > 0)

    await service.kill()

    try:
        async with running_executor(settings) as restarted:
            await ended_at_start_up(restarted.client, created["id"])
            response = await restarted.client.get(f"{API}/executions/{created['id']}/log")
            assert response.headers["x-more-data"] == "false"
            assert response.text.startswith("[testops] $ git clone")
    finally:
        stop_orphans(pids)


async def test_the_processes_of_an_execution_found_lost_at_start_up_are_stopped(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("killed-orphans")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    created = await post_execution(service.client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)

    await service.kill()

    try:
        async with running_executor(settings) as restarted:
            lost = await ended_at_start_up(restarted.client, created["id"])
            assert lost["outcome"] == "lost"
            await wait_gone(pids, within=settings.kill_grace_s + 3)
    finally:
        stop_orphans(pids)
