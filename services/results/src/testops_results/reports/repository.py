"""Every query of report builds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_results.models import Attachment, ReportBuild, Run, RunUpload, TestResult


async def get(session: AsyncSession, run_id: int) -> ReportBuild | None:
    return await session.scalar(select(ReportBuild).where(ReportBuild.run_id == run_id))


async def by_run(session: AsyncSession, run_ids: Sequence[int]) -> dict[int, ReportBuild]:
    """The builds of these runs, by run id (runs never asked for a report are absent)."""
    if not run_ids:
        return {}
    rows = await session.scalars(select(ReportBuild).where(ReportBuild.run_id.in_(run_ids)))
    return {build.run_id: build for build in rows}


async def lock_run(session: AsyncSession, run_id: int, *, project: str) -> Run | None:
    """The (not deleted) run of ``project``, locked until the transaction ends: one build
    request at a time."""
    return await session.scalar(
        select(Run)
        .where(Run.id == run_id, Run.project == project, Run.deleted_at.is_(None))
        .with_for_update()
    )


async def count_uploads(session: AsyncSession, run_id: int) -> int:
    return await session.scalar(select(func.count()).where(RunUpload.run_id == run_id)) or 0


async def upload_keys(session: AsyncSession, run_id: int) -> list[str]:
    """The raw-files objects of the run's uploads, first upload first."""
    rows = await session.scalars(
        select(RunUpload.object_key).where(RunUpload.run_id == run_id).order_by(RunUpload.id)
    )
    return list(rows)


async def attachment_contents(session: AsyncSession, run_id: int) -> list[tuple[str, str]]:
    """``(file name, sha256)`` of every attachment file of the run."""
    rows = await session.execute(
        select(Attachment.source, Attachment.sha256).where(Attachment.run_id == run_id)
    )
    return [(source, sha) for source, sha in rows]


async def earlier_runs(session: AsyncSession, run: Run, *, limit: int) -> list[Run]:
    """The latest ``limit`` runs of the same name and project before ``run`` (not deleted),
    oldest first."""
    if limit <= 0:
        return []
    rows = await session.scalars(
        select(Run)
        .where(
            Run.project == run.project,
            Run.name == run.name,
            Run.id < run.id,
            Run.deleted_at.is_(None),
        )
        .order_by(Run.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def effective_results(session: AsyncSession, run_id: int) -> AsyncIterator[dict[str, Any]]:
    """The results of a run that count (no retries), with a history id: what history holds."""
    statement = (
        select(
            TestResult.uuid,
            TestResult.history_id,
            TestResult.name,
            TestResult.full_name,
            TestResult.status,
            TestResult.message,
            TestResult.trace,
            TestResult.start_ms,
            TestResult.stop_ms,
            TestResult.duration_ms,
            TestResult.label_keys,
        )
        .where(
            TestResult.run_id == run_id,
            TestResult.is_retry.is_(False),
            TestResult.history_id.is_not(None),
        )
        .order_by(TestResult.id)
    )
    result = await session.stream(statement.execution_options(yield_per=1000))
    async for row in result.mappings():
        yield dict(row)
