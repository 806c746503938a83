"""The log's cap (``log_max_bytes``) holds whatever the timing of the writes and flushes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from tests.executor.conftest import Executor
from tests.executor.executor_api import get_execution
from tests.executor.repositories import Repos

from testops_executor.models import Execution
from testops_executor.pipeline.logs import ExecutionLog
from testops_kit.database import utcnow
from testops_kit.projects import DEFAULT_PROJECT

CAP = 1024


async def ended_execution(executor: Executor, repos: Repos) -> str:
    """An execution the worker leaves alone, for a log to be written to."""
    execution_id = str(uuid.uuid4())
    async with executor.database.session(write=True) as session:
        session.add(
            Execution(
                id=execution_id,
                project=DEFAULT_PROJECT,
                status="cancelled",
                outcome="cancelled",
                failure_reason="cancelled_by_user",
                repo_url=repos.passing.url,
                branch="main",
                suite_name="tests/",
                suite_params={},
                run_name="log only",
                timeout_s=60,
                created_at=utcnow(),
                finished_at=utcnow(),
                log_size=0,
                log_truncated=False,
                cancel_requested=False,
            )
        )
    return execution_id


async def test_a_log_written_between_flushes_stops_at_the_cap(
    executor: Executor, client: httpx.AsyncClient, repos: Repos
) -> None:
    execution_id = await ended_execution(executor, repos)
    log = ExecutionLog(executor.database, execution_id, max_bytes=CAP)

    log.write(b"a" * 1000)
    await log.flush()
    log.write(b"b" * 1000)
    await log.flush()

    execution = await get_execution(client, execution_id)
    assert execution["log_size"] == CAP
    assert execution["log_truncated"] is True


async def test_a_log_written_while_a_flush_is_in_flight_stops_at_the_cap(
    executor: Executor, client: httpx.AsyncClient, repos: Repos
) -> None:
    execution_id = await ended_execution(executor, repos)
    log = ExecutionLog(executor.database, execution_id, max_bytes=CAP)

    log.write(b"a" * 1000)
    flushing = asyncio.create_task(log.flush())
    await asyncio.sleep(0)  # the flush has taken the 1000 bytes and waits for the database
    log.write(b"b" * 1000)
    await flushing
    await log.flush()

    execution = await get_execution(client, execution_id)
    assert execution["log_size"] <= CAP
    assert execution["log_truncated"] is True
