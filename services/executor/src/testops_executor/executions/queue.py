"""The queue and the single slot: claim the oldest pending execution, hold it by a lease
renewed by heartbeat (which also carries a cancel request), run it, record how it ended.

The queue is one for all projects, in the order executions were posted: a slot runs whatever
came first, whichever project it belongs to.

On PostgreSQL several executor processes share the queue (``FOR UPDATE SKIP LOCKED``); a
reaper ends executions whose lease expired as ``failed``/``lost`` and never runs them again.
On SQLite there is one executor process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
from sqlalchemy import select, update

from testops_executor.models import Execution
from testops_executor.pipeline.logs import ExecutionLog
from testops_executor.pipeline.process import stop_recorded_groups
from testops_executor.pipeline.runner import Finished, Job, Runner
from testops_executor.settings import ExecutorSettings
from testops_kit.database import Database, utcnow
from testops_kit.logging import get_logger
from testops_kit.principal import PrincipalSigner
from testops_kit.processes import left_by_gone_process, owner, owner_gone, tagged

log = get_logger(__name__)


class Slot:
    """One execution at a time, for as long as the process runs."""

    def __init__(
        self, database: Database, settings: ExecutorSettings, upload_signer: PrincipalSigner
    ) -> None:
        self.database = database
        self.settings = settings
        self.upload_signer = upload_signer
        self.wake = asyncio.Event()
        self._owner = owner()
        self._cancel = asyncio.Event()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_s)

    async def run_forever(self) -> None:
        await self.recover()
        async with httpx.AsyncClient(
            base_url=self.settings.results_url, trust_env=False, follow_redirects=False
        ) as results:
            reaped_at = 0.0
            loop = asyncio.get_running_loop()
            while True:
                try:
                    if loop.time() - reaped_at >= self.settings.lease_s / 2:
                        await self.reap()
                        reaped_at = loop.time()
                    job = await self.claim()
                except Exception:
                    log.warning("queue_unavailable", exc_info=True)
                    job = None
                if job is None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.settings.poll_interval_s):
                            await self.wake.wait()
                    self.wake.clear()
                    continue
                await self.execute(job, results)

    async def recover(self) -> None:
        """End as ``lost`` what a dead process of this machine left ``running``; remove the
        workspaces of processes that are gone."""
        async with self.database.session(write=True) as session:
            running = (
                await session.scalars(select(Execution).where(Execution.status == "running"))
            ).all()
            for execution in running:
                if self.database.dialect == "sqlite" or owner_gone(execution.owner):
                    _end_lost(execution)
                    log.warning("execution_lost", execution_id=execution.id)
        await anyio.to_thread.run_sync(_sweep_workspaces, self.settings.resolved_workspace_dir)

    async def reap(self) -> None:
        """End as ``lost`` every running execution whose lease expired (never re-run it)."""
        async with self.database.session(write=True) as session:
            expired = (
                await session.scalars(
                    select(Execution)
                    .where(Execution.status == "running", Execution.lease_expires_at < utcnow())
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for execution in expired:
                _end_lost(execution)
                log.warning("execution_lease_expired", execution_id=execution.id)

    async def claim(self) -> Job | None:
        async with self.database.session(write=True) as session:
            execution = await session.scalar(
                select(Execution)
                .where(Execution.status == "pending")
                .order_by(Execution.created_at, Execution.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if execution is None:
                return None
            now = utcnow()
            execution.status = "running"
            execution.phase = "cloning"
            execution.started_at = now
            execution.owner = self._owner
            execution.lease_expires_at = now + self.lease
            return Job(
                id=execution.id,
                repo_url=execution.repo_url,
                branch=execution.branch,
                suite_name=execution.suite_name,
                suite_params=dict(execution.suite_params or {}),
                run_name=execution.run_name,
                timeout_s=execution.timeout_s,
                project=execution.project,
                created_by=execution.created_by,
            )

    async def execute(self, job: Job, results: httpx.AsyncClient) -> None:
        log.info(
            "execution_started", execution_id=job.id, project=job.project, repo_url=job.repo_url
        )
        workspace = self.settings.resolved_workspace_dir / tagged(job.id)
        await anyio.to_thread.run_sync(lambda: workspace.mkdir(parents=True, exist_ok=True))
        cancelled = asyncio.Event()

        async def set_phase(phase: str) -> None:
            await self._update(job.id, phase=phase)
            log.info("execution_phase", execution_id=job.id, phase=phase)

        runner = Runner(
            settings=self.settings,
            results=results,
            set_phase=set_phase,
            signer=self.upload_signer,
        )
        async with ExecutionLog(
            self.database, job.id, max_bytes=self.settings.log_max_bytes
        ) as out:
            work = asyncio.create_task(runner.run(job, workspace, out))
            beat = asyncio.create_task(self._heartbeat(job.id, work, cancelled))
            try:
                finished = await work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not cancelled.is_set() or (current is not None and current.cancelling()):
                    raise  # the process is stopping, not (only) the user cancelling
                out.line("cancelled on request")
                finished = Finished(
                    "cancelled", "cancelled", "cancelled_by_user", commit=runner.commit
                )
            except Exception as exc:
                log.exception("execution_crashed", execution_id=job.id)
                finished = Finished(
                    "failed",
                    "error",
                    None,
                    error=f"{type(exc).__name__}: {exc}",
                    commit=runner.commit,
                )
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(workspace, ignore_errors=True))
        await self._finish(job.id, finished)
        log.info(
            "execution_finished",
            execution_id=job.id,
            status=finished.status,
            outcome=finished.outcome,
            failure_reason=finished.failure_reason,
        )

    async def _heartbeat(
        self, execution_id: str, work: asyncio.Task[Finished], cancelled: asyncio.Event
    ) -> None:
        interval = max(0.2, min(self.settings.lease_s / 3, 2.0))
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.database.session(write=True) as session:
                    execution = await session.get(Execution, execution_id)
                    if execution is None or execution.owner != self._owner:
                        continue
                    execution.lease_expires_at = utcnow() + self.lease
                    wants_cancel = execution.cancel_requested
            except Exception:
                log.warning("heartbeat_failed", execution_id=execution_id, exc_info=True)
                continue
            if wants_cancel and not cancelled.is_set():
                cancelled.set()
                work.cancel()

    async def _update(self, execution_id: str, **values: object) -> None:
        async with self.database.session(write=True) as session:
            await session.execute(
                update(Execution)
                .where(Execution.id == execution_id, Execution.owner == self._owner)
                .values(**values)
            )

    async def _finish(self, execution_id: str, finished: Finished) -> None:
        async with self.database.session(write=True) as session:
            await session.execute(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.owner == self._owner,
                    Execution.status == "running",
                )
                .values(
                    status=finished.status,
                    outcome=finished.outcome,
                    failure_reason=finished.failure_reason,
                    exit_code=finished.exit_code,
                    error=finished.error,
                    run_id=finished.run_id,
                    commit=finished.commit,
                    phase=None,
                    finished_at=utcnow(),
                    lease_expires_at=None,
                )
            )


def _end_lost(execution: Execution) -> None:
    execution.status = "failed"
    execution.outcome = "lost"
    execution.failure_reason = "lease_expired"
    execution.phase = None
    execution.finished_at = utcnow()
    execution.lease_expires_at = None
    execution.error = "the executor process running it stopped reporting"


def _sweep_workspaces(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in root.iterdir():
        unknown = "~" not in folder.name and not folder.name.partition("-")[0].isdigit()
        if unknown or left_by_gone_process(folder.name):
            # A killed executor leaves its suite running otherwise.
            stop_recorded_groups(folder)
            shutil.rmtree(folder, ignore_errors=True)
