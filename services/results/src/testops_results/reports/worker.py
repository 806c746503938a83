"""The report build queue: claim the oldest pending build, hold it by a lease renewed by
heartbeat, build it, record how it ended — one build at a time per results process.

On PostgreSQL several results processes share the queue (``FOR UPDATE SKIP LOCKED``); a build
whose lease expired (its process died) is queued again once, then failed ``build_lost``. On
SQLite there is one results process, and whatever it left ``building`` is treated so at start.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy import select, update

from testops_kit.database import Database, utcnow
from testops_kit.logging import get_logger
from testops_kit.processes import owner, owner_gone
from testops_kit.storage import Storage
from testops_results.models import ReportBuild
from testops_results.reports.builder import Builder, Outcome, report_prefix, sweep_workdirs
from testops_results.settings import ResultsSettings

MAX_ATTEMPTS = 2
"""A build is tried once more when the process building it dies, then failed."""
POLL_S = 2.0
"""How often the queue is looked at when nothing wakes the worker (other processes' builds)."""

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    run_id: int
    build_key: str


class ReportWorker:
    """Builds reports one after another for as long as the process runs."""

    def __init__(self, database: Database, storage: Storage, settings: ResultsSettings) -> None:
        self.database = database
        self.storage = storage
        self.settings = settings
        self.wake = asyncio.Event()
        self._owner = owner()
        self._builder = Builder(database=database, storage=storage, settings=settings)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.report_lease_s)

    async def run_forever(self) -> None:
        try:
            await self.recover()
        except Exception:
            log.warning("report_recovery_failed", exc_info=True)
        reaped_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - reaped_at >= self.settings.report_lease_s / 2:
                    await self.reap()
                    reaped_at = loop.time()
                claimed = await self.claim()
            except Exception:
                log.warning("report_queue_unavailable", exc_info=True)
                claimed = None
            if claimed is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await self.wake.wait()
                self.wake.clear()
                continue
            await self.execute(claimed)

    async def recover(self) -> None:
        """Requeue (once) or fail what a dead process of this machine left ``building``; remove
        the work folders of processes that are gone."""
        async with self.database.session(write=True) as session:
            building = (
                await session.scalars(select(ReportBuild).where(ReportBuild.status == "building"))
            ).all()
            for build in building:
                if self.database.dialect == "sqlite" or owner_gone(build.owner):
                    _lost(build)
        await anyio.to_thread.run_sync(sweep_workdirs, self.settings.spool_dir)

    async def reap(self) -> None:
        """Requeue (once) or fail every build whose lease expired."""
        async with self.database.session(write=True) as session:
            expired = (
                await session.scalars(
                    select(ReportBuild)
                    .where(
                        ReportBuild.status == "building", ReportBuild.lease_expires_at < utcnow()
                    )
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for build in expired:
                _lost(build)

    async def claim(self) -> Claimed | None:
        async with self.database.session(write=True) as session:
            build = await session.scalar(
                select(ReportBuild)
                .where(ReportBuild.status == "pending")
                .order_by(ReportBuild.created_at, ReportBuild.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if build is None:
                return None
            now = utcnow()
            build.status = "building"
            build.owner = self._owner
            build.started_at = now
            build.lease_expires_at = now + self.lease
            build.attempts += 1
            return Claimed(build.id, build.run_id, build.build_key)

    async def execute(self, claimed: Claimed) -> None:
        log.info("report_build_started", run_id=claimed.run_id, build=claimed.build_key)
        beat = asyncio.create_task(self._heartbeat(claimed.id))
        try:
            outcome = await self._builder.build(claimed.run_id, claimed.build_key)
        except Exception as exc:
            log.exception("report_build_crashed", run_id=claimed.run_id)
            outcome = Outcome("failed", f"{type(exc).__name__}: {exc}", "build_error")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        finished = await self._finish(claimed, outcome)
        if finished:
            await self._remove_other_builds(claimed)
        log.info(
            "report_build_finished",
            run_id=claimed.run_id,
            build=claimed.build_key,
            status=outcome.status,
            code=outcome.code,
            files=outcome.files,
            history_runs=outcome.history_runs,
        )

    async def _heartbeat(self, build_id: int) -> None:
        interval = max(0.2, min(self.settings.report_lease_s / 3, 5.0))
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.database.session(write=True) as session:
                    await session.execute(
                        update(ReportBuild)
                        .where(ReportBuild.id == build_id, ReportBuild.owner == self._owner)
                        .values(lease_expires_at=utcnow() + self.lease)
                    )
            except Exception:
                log.warning("report_heartbeat_failed", build_id=build_id, exc_info=True)

    async def _finish(self, claimed: Claimed, outcome: Outcome) -> bool:
        """Record the outcome, unless the build was taken from this process meanwhile; a ready
        build is served from now on."""
        served = {"served_key": claimed.build_key} if outcome.status == "ready" else {}
        async with self.database.session(write=True) as session:
            result = await session.execute(
                update(ReportBuild)
                .where(
                    ReportBuild.id == claimed.id,
                    ReportBuild.owner == self._owner,
                    ReportBuild.status == "building",
                    ReportBuild.build_key == claimed.build_key,
                )
                .values(
                    status=outcome.status,
                    error=outcome.error,
                    error_code=outcome.code,
                    uploads=outcome.uploads,
                    history_runs=outcome.history_runs,
                    files=outcome.files,
                    finished_at=utcnow(),
                    lease_expires_at=None,
                    **served,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def _remove_other_builds(self, claimed: Claimed) -> None:
        """Remove the files of every build of the run but the one served and one under way
        (a newer build may have been asked for meanwhile)."""
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(ReportBuild.served_key, ReportBuild.build_key, ReportBuild.status).where(
                        ReportBuild.run_id == claimed.run_id
                    )
                )
            ).first()
        served, latest, status = row if row is not None else (None, None, None)
        keys = (served, latest if status in ("pending", "building") else None)
        keep = tuple(report_prefix(claimed.run_id, key) for key in keys if key is not None)
        try:
            stale = [
                info.key
                async for info in self.storage.list(f"reports/{claimed.run_id}/")
                if not info.key.startswith(keep)
            ]
            await self.storage.delete_many(stale)
        except Exception:
            log.warning("report_files_not_removed", run_id=claimed.run_id, exc_info=True)


def _lost(build: ReportBuild) -> None:
    build.owner = None
    build.lease_expires_at = None
    if build.attempts < MAX_ATTEMPTS:
        build.status = "pending"
        log.warning("report_build_requeued", run_id=build.run_id, attempts=build.attempts)
        return
    build.status = "failed"
    build.error_code = "build_lost"
    build.error = (
        f"The process building the report stopped reporting, {build.attempts} times; "
        "ask for the report again."
    )
    build.finished_at = utcnow()
    log.warning("report_build_lost", run_id=build.run_id)
