"""Two executor processes on one PostgreSQL queue: each execution is claimed and run exactly
once, and neither process ever runs two at a time."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from tests.executor.conftest import (
    ExecutorSettingsFactory,
    StartExecutorProcess,
    running_executor,
)
from tests.executor.executor_api import API, FINISHED, assert_ended, get_execution, post_execution
from tests.executor.repositories import Repos

from testops_executor.models import Execution
from testops_kit.testing import postgres_test_url, wait_for

pytestmark = pytest.mark.skipif(
    postgres_test_url() is None,
    reason="on SQLite exactly one executor process owns the database and its queue",
)


async def test_two_executor_processes_share_one_queue_and_run_each_execution_once(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    results: httpx.AsyncClient,
    repos: Repos,
) -> None:
    settings = await executor_settings("shared")
    other_settings = await executor_settings("shared-other", database_url=settings.database_url)
    # The other executor is a process of its own (its own pid, so its own owner name).
    other = await start_executor_process(other_settings)
    run_name = f"shared-{uuid.uuid4().hex[:8]}"

    async with running_executor(settings) as executor:
        client = executor.client
        posted = [await post_execution(client, repos.passing, run_name=run_name) for _ in range(4)]
        ids = {e["id"] for e in posted}
        most_per_owner: Counter[str] = Counter()

        async def all_finished() -> bool | None:
            async with executor.database.session() as session:
                rows = (
                    await session.execute(
                        select(Execution.id, Execution.status, Execution.owner).where(
                            Execution.id.in_(ids)
                        )
                    )
                ).all()
            running = Counter(str(owner) for _, status, owner in rows if status == "running")
            for owner, count in running.items():
                most_per_owner[owner] = max(most_per_owner[owner], count)
            return True if all(status in FINISHED for _, status, _ in rows) else None

        await wait_for(all_finished, within=120, interval=0.1)

        executions = [await get_execution(client, e["id"]) for e in posted]
        for execution in executions:
            await assert_ended(client, execution, "completed", "passed")
        async with executor.database.session() as session:
            rows = await session.execute(select(Execution.id, Execution.owner))
            owners = {execution_id: str(owner) for execution_id, owner in rows}

    assert most_per_owner, "never saw one running"
    assert max(most_per_owner.values()) == 1, most_per_owner
    assert len({owners[i] for i in ids}) == 2, f"one process ran them all: {owners}"
    assert f":{other.pid}:" in " ".join(owners.values())
    run_ids = [e["run_id"] for e in executions]
    assert None not in run_ids
    assert len(set(run_ids)) == 4
    # The results service got exactly one run per execution.
    response = await results.get(f"{API}/runs", params={"name": run_name, "limit": 500})
    assert response.status_code == 200, response.text
    runs = response.json()["items"]
    assert sorted(run["execution_id"] for run in runs) == sorted(ids)
    assert sorted(run["id"] for run in runs) == sorted(run_ids)
