"""What /runs returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from testops_kit.schemas import Timestamp
from testops_results.models import Run


class RunStats(BaseModel):
    """Counts as the Allure 3 CLI's summary gives them: tests, not result files."""

    total: int = Field(description="Tests (results sharing a history id count once).")
    passed: int
    failed: int
    broken: int
    skipped: int
    unknown: int
    retries: int = Field(description="Tests with at least one retry.")
    retry_attempts: int = Field(description="Retried results (the attempts that do not count).")


class UploadWarning(BaseModel):
    file: str = Field(description="The file that was skipped or ignored.")
    message: str


class ReportState(BaseModel):
    status: Literal["none", "pending", "building", "ready", "failed"] = "none"
    url: str | None = None


class RunOut(BaseModel):
    id: int
    name: str
    status: Literal["failed", "broken", "passed", "skipped", "unknown"]
    stats: RunStats
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_ms: int | None
    created_at: Timestamp
    updated_at: Timestamp
    is_deleted: bool
    deleted_at: Timestamp | None
    source: Literal["upload", "execution"]
    execution_id: str | None
    branch: str | None
    commit: str | None
    ci_url: str | None
    environment: dict[str, str] = Field(description="From environment.properties.")
    executor: dict[str, Any] | None = Field(description="From executor.json.")
    categories: list[Any] | None = Field(description="From categories.json.")
    warnings: list[UploadWarning] = Field(description="Files skipped or ignored, and why.")
    report: ReportState

    @classmethod
    def of(cls, run: Run, report: ReportState | None = None) -> RunOut:
        return cls(
            id=run.id,
            name=run.name,
            status=run.status,
            stats=RunStats(
                total=run.total,
                passed=run.passed,
                failed=run.failed,
                broken=run.broken,
                skipped=run.skipped,
                unknown=run.unknown,
                retries=run.retries,
                retry_attempts=run.retry_attempts,
            ),
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_ms=run.duration_ms,
            created_at=run.created_at,
            updated_at=run.updated_at,
            is_deleted=run.deleted_at is not None,
            deleted_at=run.deleted_at,
            source=run.source,
            execution_id=run.execution_id,
            branch=run.branch,
            commit=run.commit,
            ci_url=run.ci_url,
            environment=run.environment or {},
            executor=run.executor,
            categories=run.categories,
            warnings=[UploadWarning.model_validate(w) for w in run.warnings or []],
            report=report or ReportState(),
        )
