"""``make run-prod``'s executors share one queue: each execution runs once, on one of them, and
no more run at a time than there are executor processes. (The rest of the CI pipeline's
scenario runs against the production mode in test_ci_pipeline.py.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest
from tests.e2e.stack import API, FINISHED, JSON, RUN_WITHIN_S, SHOP_STATS, Deployment
from tests.executor.repositories import Repo
from tests.results.results_api import every_item

from testops_kit.testing import wait_for

EXECUTIONS = 6


def most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of the intervals that overlap at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in events:  # an end sorts before a start at the same moment
        running += change
        peak = max(peak, running)
    return peak


async def test_six_executions_posted_at_once_run_at_most_three_at_a_time_and_each_once(
    deployment: Deployment, ci: httpx.AsyncClient, shop_repo: Repo
) -> None:
    if deployment.executors < 3:
        pytest.skip("needs the production mode's three executor processes")
    batch = uuid.uuid4().hex[:8]
    bodies = [
        {
            "repo_url": shop_repo.url,
            "branch": "main",
            "suite": {"name": "tests/", "params": {"v": True}},
            "run_name": f"slots-{batch}-{n}",
        }
        for n in range(EXECUTIONS)
    ]
    accepted = await asyncio.gather(*(ci.post(f"{API}/executions", json=b) for b in bodies))
    assert [a.status_code for a in accepted] == [202] * EXECUTIONS, [a.text for a in accepted]
    ids = [a.json()["id"] for a in accepted]
    running_per_poll: list[int] = []

    async def all_finished() -> list[JSON] | None:
        # One listing is one moment of the queue (single reads could straddle a hand-over).
        running = await ci.get(f"{API}/executions", params={"status": "running", "limit": 100})
        assert running.status_code == 200, running.text
        running_per_poll.append(sum(e["id"] in ids for e in running.json()["items"]))
        answers = await asyncio.gather(*(ci.get(f"{API}/executions/{i}") for i in ids))
        executions: list[JSON] = [answer.json() for answer in answers]
        return executions if all(e["status"] in FINISHED for e in executions) else None

    finished = await wait_for(all_finished, within=2 * RUN_WITHIN_S, interval=0.25)

    assert [(e["status"], e["outcome"]) for e in finished] == [
        ("completed", "tests_failed")
    ] * EXECUTIONS, finished
    intervals = [
        (datetime.fromisoformat(e["started_at"]), datetime.fromisoformat(e["finished_at"]))
        for e in finished
    ]
    assert 2 <= most_at_once(intervals) <= 3, intervals
    assert max(running_per_poll) <= 3, running_per_poll
    run_ids = [e["run_id"] for e in finished]
    assert len(set(run_ids)) == EXECUTIONS, run_ids
    for execution in finished:
        runs = await every_item(ci, f"{API}/runs", name=execution["run_name"])
        assert [(r["id"], r["execution_id"]) for r in runs] == [
            (execution["run_id"], execution["id"])
        ], runs
        assert runs[0]["stats"] == SHOP_STATS
