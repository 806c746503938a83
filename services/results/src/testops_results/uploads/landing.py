"""The one transaction that makes an upload visible: the run (or its new shard), its results,
labels, containers and attachments, then Allure's retry flags and the run's stats."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.database import utcnow
from testops_kit.dialects import allocate_ids, bulk_insert, upsert
from testops_kit.errors import ServiceUnavailable
from testops_results import allure
from testops_results.analytics.repository import mark_flaky
from testops_results.models import (
    NAME_MAX,
    Attachment,
    Container,
    ContainerChild,
    Run,
    RunUpload,
    TestResult,
    Upload,
)
from testops_results.runs.errors import RunNotFound
from testops_results.uploads.staging import Staged

BATCH = 1000

RESULT_COLUMNS = [
    column.name
    for column in TestResult.__table__.columns
    if column.name not in ("id", "run_id", "project")
]
"""The columns of a result that come from its file."""


class UploadAbandoned(ServiceUnavailable):
    code = "upload_abandoned"
    title = "Upload abandoned"


async def land(
    session: AsyncSession,
    *,
    upload_id: str,
    object_key: str,
    staged: Staged,
    project: str,
    run_id: int | None,
    new_run: dict[str, Any] | None,
    flaky_window: int,
) -> int:
    """Write ``staged`` as a new run of ``project`` (``new_run`` holds its fields) or a shard
    of ``run_id`` (a run of ``project``); then mark ``flaky`` the results of tests that are
    flaky over its ``flaky_window`` newest runs of the same name and project (a mark is only
    ever added: a later shard never removes one)."""
    if new_run is not None:
        run = Run(**new_run, project=project, status="unknown")
        session.add(run)
        await session.flush()
    else:
        found = await session.scalar(
            select(Run)
            .where(Run.id == run_id, Run.project == project, Run.deleted_at.is_(None))
            .with_for_update()
        )
        if found is None:
            raise RunNotFound(f"No run {run_id}.")
        run = found
    await _insert_results(session, run, staged, new_run=new_run is not None)
    await _insert_containers(session, run.id, staged)
    await _upsert_attachments(session, run.id, staged)
    session.add(
        RunUpload(run_id=run.id, upload_id=upload_id, object_key=object_key, files=staged.raw_files)
    )
    await _flag_retries(session, run.id, {r.row["history_id"] for r in staged.results})
    await mark_flaky(session, run=run, window=flaky_window)
    await _merge_metadata(run, staged)
    await refresh_stats(session, run)
    # Last, so that the upload's heartbeat goes on while the rows go in. Gone means another
    # process judged it abandoned and released it: nothing of it may land then.
    gone = await session.execute(delete(Upload).where(Upload.id == upload_id))
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise UploadAbandoned("The upload took too long and was abandoned; send it again.")
    await session.flush()
    return run.id


async def _insert_results(
    session: AsyncSession, run: Run, staged: Staged, *, new_run: bool
) -> None:
    # A uuid seen twice: the later file wins, as in Allure, also over an earlier shard.
    latest = {result.uuid: result for result in staged.results}
    results = list(latest.values())
    if not new_run:
        existing = await session.execute(
            select(TestResult.id, TestResult.uuid).where(TestResult.run_id == run.id)
        )
        replaced = [row.id for row in existing if row.uuid in latest]
        for start in range(0, len(replaced), BATCH):
            await session.execute(
                delete(TestResult).where(TestResult.id.in_(replaced[start : start + BATCH]))
            )
    # Ids in file order: the order Allure breaks ties between retries by.
    ids = await allocate_ids(session, TestResult, len(results))
    columns = ["id", "run_id", "project", *RESULT_COLUMNS]
    await bulk_insert(
        session,
        TestResult,
        columns,
        [
            (result_id, run.id, run.project, *(result.row[name] for name in RESULT_COLUMNS))
            for result_id, result in zip(ids, results, strict=True)
        ],
    )


async def _insert_containers(session: AsyncSession, run_id: int, staged: Staged) -> None:
    kept = staged.containers
    ids = await allocate_ids(session, Container, len(kept))
    await bulk_insert(
        session,
        Container,
        ["id", "run_id", "uuid", "document"],
        [
            (container_id, run_id, c.uuid, c.document)
            for container_id, c in zip(ids, kept, strict=True)
        ],
    )
    await bulk_insert(
        session,
        ContainerChild,
        ["container_id", "result_uuid", "run_id"],
        [
            (container_id, child, run_id)
            for container_id, container in zip(ids, kept, strict=True)
            for child in dict.fromkeys(container.children)
        ],
    )


def _references(staged: Staged) -> dict[str, allure.AttachmentRef]:
    refs: dict[str, allure.AttachmentRef] = {}
    for result in staged.results:
        for ref in result.refs:
            refs.setdefault(ref.source, ref)
    for container in staged.containers:
        for ref in container.refs:
            refs.setdefault(ref.source, ref)
    return refs


async def _upsert_attachments(session: AsyncSession, run_id: int, staged: Staged) -> None:
    refs = _references(staged)
    rows = []
    for source, attachment in staged.attachments.items():
        ref = refs.get(source)
        rows.append(
            {
                "run_id": run_id,
                "source": source[:NAME_MAX],
                "name": (ref.name if ref and ref.name else source),
                "content_type": (
                    ref.content_type
                    if ref and ref.content_type
                    else allure.guess_content_type(source)
                )[:NAME_MAX],
                "size": attachment.size,
                "sha256": attachment.sha256,
                "created_at": utcnow(),
            }
        )
    statement = upsert(
        session,
        Attachment,
        index_elements=["run_id", "source"],
        update=["name", "content_type", "size", "sha256", "created_at"],
    )
    for start in range(0, len(rows), BATCH):
        await session.execute(statement, rows[start : start + BATCH])


def _winner_key(row: Any) -> tuple[bool, int, int]:
    # The Allure 3 CLI's order: a result without a start counts as the latest; then the latest
    # start; then the one read last.
    return (row.start_ms is None, row.start_ms or 0, row.id)


async def _flag_retries(session: AsyncSession, run_id: int, history_ids: set[str | None]) -> None:
    wanted = {h for h in history_ids if h is not None}
    groups: dict[str, list[Any]] = defaultdict(list)
    # The run's rows by its index, filtered here: a long IN list would be planned generically
    # by PostgreSQL after a few uploads, and then scanned.
    found = await session.execute(
        select(
            TestResult.id, TestResult.history_id, TestResult.start_ms, TestResult.is_retry
        ).where(TestResult.run_id == run_id, TestResult.history_id.is_not(None))
    )
    for row in found:
        if row.history_id in wanted:
            groups[row.history_id].append(row)
    now_retry: list[int] = []
    now_counted: list[int] = []
    for rows in groups.values():
        winner = max(rows, key=_winner_key)
        for row in rows:
            should_retry = row.id != winner.id
            if should_retry != row.is_retry:
                (now_retry if should_retry else now_counted).append(row.id)
    for ids, flag in ((now_retry, True), (now_counted, False)):
        for start in range(0, len(ids), BATCH):
            await session.execute(
                update(TestResult)
                .where(TestResult.id.in_(ids[start : start + BATCH]))
                .values(is_retry=flag)
                .execution_options(synchronize_session=False)
            )


async def _merge_metadata(run: Run, staged: Staged) -> None:
    if staged.environment:
        run.environment = {**(run.environment or {}), **staged.environment}
    if staged.executor is not None:
        run.executor = staged.executor
    if staged.categories is not None:
        run.categories = staged.categories
    if staged.warnings:
        run.warnings = [*(run.warnings or []), *staged.warnings]
    run.updated_at = utcnow()


async def refresh_stats(session: AsyncSession, run: Run) -> None:
    """Recount the run's tests from its results, as the Allure 3 CLI's summary counts them."""
    counted = TestResult.run_id == run.id
    by_status = dict(
        (
            await session.execute(
                select(TestResult.status, func.count())
                .where(counted, TestResult.is_retry.is_(False))
                .group_by(TestResult.status)
            )
        ).all()
    )
    attempts, retried = (
        await session.execute(
            select(func.count(), func.count(TestResult.history_id.distinct())).where(
                counted, TestResult.is_retry.is_(True)
            )
        )
    ).one()
    first, last = (
        await session.execute(
            select(func.min(TestResult.start_ms), func.max(TestResult.stop_ms)).where(
                counted,
                TestResult.is_retry.is_(False),
                TestResult.start_ms.is_not(None),
                TestResult.stop_ms.is_not(None),
            )
        )
    ).one()
    for status in allure.STATUSES:
        setattr(run, status, int(by_status.get(status, 0)))
    run.total = sum(int(count) for count in by_status.values())
    run.retry_attempts = int(attempts)
    run.retries = int(retried)
    run.status = allure.worst_status(status for status, count in by_status.items() if count)
    run.started_at = allure.moment(first)
    run.finished_at = allure.moment(last)
    run.duration_ms = max(0, last - first) if first is not None and last is not None else None
