"""An execution's ``timeout_s``: past it the whole process group is stopped (TERM, grace, KILL)
and the execution fails as ``timed_out``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from tests.executor.conftest import Executor
from tests.executor.executor_api import (
    assert_ended,
    log_text,
    post_execution,
    wait_finished,
    wait_gone,
    wait_hanging_started,
)
from tests.executor.repositories import Repos, pid_files

TIMEOUT_S = 8


async def test_a_hanging_suite_times_out_and_no_process_of_it_is_left(
    executor: Executor, client: httpx.AsyncClient, repos: Repos, pid_dir: Path
) -> None:
    known = pid_files(pid_dir)

    created = await post_execution(client, repos.hanging, timeout_s=TIMEOUT_S)
    pids = await wait_hanging_started(pid_dir, known)
    execution = await wait_finished(
        client, created["id"], within=TIMEOUT_S + executor.settings.kill_grace_s + 15
    )

    await assert_ended(client, execution, "failed", "timed_out", "timeout")
    assert execution["exit_code"] is None
    assert execution["run_id"] is None
    assert execution["commit"] == repos.hanging.head
    took = datetime.fromisoformat(execution["finished_at"]) - datetime.fromisoformat(
        execution["started_at"]
    )
    assert TIMEOUT_S <= took.total_seconds() <= TIMEOUT_S + executor.settings.kill_grace_s + 5
    await wait_gone(pids, within=5)
    assert execution["error"].startswith("uv run did not finish within "), execution
    assert f"[testops] stopped: {execution['error']}" in await log_text(client, created["id"])
