"""An executor process told to stop (SIGTERM) while it runs an execution: it stops the
execution's process group and exits."""

from __future__ import annotations

from pathlib import Path

from tests.executor.conftest import ExecutorSettingsFactory, StartExecutorProcess
from tests.executor.executor_api import (
    API,
    post_execution,
    wait_gone,
    wait_hanging_started,
)
from tests.executor.repositories import Repos, pid_files
from tests.executor.test_executions_recovery import stop_orphans

from testops_kit.testing import wait_for


async def test_an_executor_told_to_stop_stops_the_running_suite_and_exits(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("stopped")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    await post_execution(service.client, repos.hanging)
    pids = await wait_hanging_started(pid_dir, known)

    try:
        exited = await service.terminate(within=settings.kill_grace_s + 10)

        assert exited, service.log_tail()
        await wait_gone(pids, within=3)
    finally:
        stop_orphans(pids)


async def test_an_executor_told_to_stop_while_it_stops_a_cancelled_execution_exits(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    pid_dir: Path,
) -> None:
    settings = await executor_settings("stopped-while-cancelling")
    service = await start_executor_process(settings)
    known = pid_files(pid_dir)
    created = await post_execution(service.client, repos.stubborn)
    pids = await wait_hanging_started(pid_dir, known)
    response = await service.client.post(f"{API}/executions/{created['id']}/cancel")
    assert response.status_code == 202, response.text

    async def stopping() -> bool | None:
        return True if pids.got_term(pid_dir) else None

    # The heartbeat carried the cancel: the group got TERM and has the grace to end.
    await wait_for(stopping, within=10)

    try:
        exited = await service.terminate(within=settings.kill_grace_s + 5)

        assert exited, f"still running after SIGTERM:\n{service.log_tail()}"
    finally:
        await service.kill()
        stop_orphans(pids)
