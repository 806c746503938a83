"""The rules of report builds: when asking for a report queues a build, and what a run shows.

- No build yet, or the last one failed: a new build is queued.
- One is ``pending`` or ``building``: that one is the answer (never a second build).
- One is ``ready``: it is the answer, unless the run gained uploads since it was built; then a
  new build replaces it. The ready one is served until the new one is ready (and after a new
  one failed); its files are removed once it is no longer served.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.database import Database, utcnow
from testops_results.models import ReportBuild
from testops_results.reports import repository
from testops_results.reports.schemas import ReportOut
from testops_results.runs.errors import RunNotFound


async def request_build(
    *, session: AsyncSession, run_id: int, project: str
) -> tuple[ReportBuild, bool]:
    """The run's build after asking for one, and whether a new build was queued."""
    run = await repository.lock_run(session, run_id, project=project)
    if run is None:
        raise RunNotFound(f"No run {run_id}.")
    build = await repository.get(session, run_id)
    if build is not None:
        if build.status in ("pending", "building"):
            return build, False
        if build.status == "ready" and build.uploads >= await repository.count_uploads(
            session, run_id
        ):
            return build, False
    if build is None:
        build = ReportBuild(run_id=run_id)
        session.add(build)
    build.build_key = uuid.uuid4().hex
    build.status = "pending"
    build.error = build.error_code = build.owner = None
    build.lease_expires_at = build.started_at = build.finished_at = None
    build.attempts = 0
    build.created_at = utcnow()
    await session.flush()
    return build, True


async def queue_build(
    *, database: Database, wake: asyncio.Event, run_id: int, project: str, root: str
) -> tuple[ReportOut, bool]:
    """:func:`request_build` in a transaction of its own, then ``wake`` this process's worker
    once it is committed (so the worker sees the build); returns the state (its URL under
    ``root``) and whether it queued a build."""
    async with database.session(write=True) as session:
        build, queued = await request_build(session=session, run_id=run_id, project=project)
        out = ReportOut.of(run_id, build, root=root)
    if queued:
        wake.set()
    return out, queued
