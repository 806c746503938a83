"""The audit log's writer: events are queued as requests end and written in batches by one
task, so no response waits for them; sign-in failures, which throttling counts, are written by
the sign-in itself (:meth:`AuditLog.write`)::

    audit.start(database)
    audit.record(AuditEntry(action="create_test_case", method="POST", ...))
    await audit.stop()   # writes what is queued
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.audit.repository import AuditRepository
from testops_gateway.models import ACTOR_MAX
from testops_kit.database import Database, utcnow
from testops_kit.logging import get_logger

log = get_logger(__name__)

BATCH = 500
CAPACITY = 100_000
"""Events queued at most; past it (a database down for long) new ones are dropped, logged."""
_RETRY_S = (0.5, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event, as a row of ``audit_events``: never a body, a header or a secret."""

    action: str
    method: str
    path: str
    status: int
    resource: str | None = None
    actor_id: int | None = None
    actor_username: str | None = None
    token_id: int | None = None
    project: str | None = None
    request_id: str | None = None
    ip: str | None = None
    at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row["action"] = self.action[:64]
        row["path"] = self.path[:512]
        row["resource"] = self.resource[:1024] if self.resource else None
        row["actor_username"] = self.actor_username[:ACTOR_MAX] if self.actor_username else None
        row["project"] = self.project[:16] if self.project else None
        return row


class AuditLog:
    """Queues events and writes them in batches; see the module's docstring."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[AuditEntry] | None = None
        self._task: asyncio.Task[None] | None = None
        self._database: Database | None = None
        self.dropped = 0

    def start(self, database: Database) -> None:
        self._database = database
        self._queue = asyncio.Queue(CAPACITY)
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    def record(self, entry: AuditEntry) -> None:
        """Queue ``entry``; never waits."""
        if self._queue is None:
            log.warning("audit_not_started", action=entry.action)
            return
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("audit_event_dropped", action=entry.action, dropped=self.dropped)

    async def write(self, session: AsyncSession, *entries: AuditEntry) -> None:
        """Write ``entries`` in ``session``'s transaction, now."""
        await AuditRepository(session).add_many([entry.row() for entry in entries])

    async def flush(self) -> None:
        """Wait until every event queued so far has been written (or given up on)."""
        if self._queue is not None:
            await self._queue.join()

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None or self._queue is None:
            return
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write_batch(self, batch: list[AuditEntry]) -> None:
        assert self._database is not None
        rows = [entry.row() for entry in batch]
        for attempt, pause in enumerate((*_RETRY_S, None)):
            try:
                async with self._database.session(write=True) as session:
                    await AuditRepository(session).add_many(rows)
                return
            except Exception as exc:  # the database is busy or away: wait and try again
                if pause is None:
                    self.dropped += len(rows)
                    log.error(
                        "audit_events_lost",
                        count=len(rows),
                        error_type=type(exc).__name__,
                        attempts=attempt + 1,
                    )
                    return
                log.warning("audit_write_retry", count=len(rows), error_type=type(exc).__name__)
                await asyncio.sleep(pause)


def app_audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


AuditDep = Annotated[AuditLog, Depends(app_audit)]
