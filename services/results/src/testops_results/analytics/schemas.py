"""What /analytics/flaky, /analytics/trends and /runs/{id}/failures return."""

from __future__ import annotations

from pydantic import BaseModel, Field

from testops_kit.schemas import Timestamp
from testops_results.allure import Status
from testops_results.runs.schemas import RunStats


class Flakiness(BaseModel):
    """How a test behaved over a series of its counted results."""

    flaky: bool = Field(description="It flipped at least once or passed on a retry.")
    flips: int = Field(
        description="Changes between `passed` and `failed`/`broken` from one result to the next, "
        "oldest to newest (skipped and unknown results are passed over)."
    )
    window: int = Field(description="The results considered.")
    passed_on_retry: int = Field(
        description="Results that passed after an attempt of the same run failed or broke."
    )


class RecentResult(BaseModel):
    result_id: int
    run_id: int
    status: Status
    created_at: Timestamp = Field(description="When the run was created.")


class FlakyTest(BaseModel):
    history_id: str
    name: str = Field(description="The name of its newest result.")
    full_name: str | None
    flips: int = Field(description="Changes between `passed` and `failed`/`broken` in the window.")
    passed_on_retry: int = Field(
        description="Runs of the window in which it passed after a failed or broken attempt."
    )
    last_results: list[RecentResult] = Field(
        description="Its newest counted results in the window (at most five), newest first."
    )


class TrendPoint(BaseModel):
    id: int
    created_at: Timestamp
    status: Status
    stats: RunStats
    duration_ms: int | None


class Trends(BaseModel):
    name: str
    items: list[TrendPoint] = Field(description="The newest runs of that name, oldest first.")


class FailedResult(BaseModel):
    id: int
    name: str
    full_name: str | None
    status: Status


class FailureGroup(BaseModel):
    fingerprint: str = Field(
        description="sha1 of the status, the normalised message and the three innermost frames."
    )
    status: Status
    message: str | None = Field(
        description="The normalised message of the group's first result: numbers, hex "
        "addresses, temporary paths, UUIDs and hash-like ids masked."
    )
    count: int
    results: list[FailedResult]


class RunFailures(BaseModel):
    run_id: int
    groups: list[FailureGroup] = Field(description="Largest group first.")
