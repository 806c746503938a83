"""The gateway's periodic chores: writing when tokens and sessions were last used (every
``TOKEN_USAGE_FLUSH_S``, and at shutdown), and, hourly, deleting audit events past
``AUDIT_RETENTION_DAYS`` and sessions that ended more than a day ago."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

from testops_gateway.audit.repository import AuditRepository
from testops_gateway.sessions.repository import SessionRepository
from testops_gateway.usage import UsageRecorder
from testops_kit.database import Database, utcnow
from testops_kit.logging import get_logger

log = get_logger(__name__)

PRUNE_EVERY_S = 3600.0
SESSIONS_KEPT = timedelta(days=1)
"""How long an ended session's row stays (the audit log keeps its sign-in and sign-out)."""


class Housekeeping:
    def __init__(
        self,
        database: Database,
        usage: UsageRecorder,
        *,
        flush_every_s: float,
        audit_retention_days: int,
    ) -> None:
        self.database = database
        self.usage = usage
        self.flush_every_s = flush_every_s
        self.audit_retention_days = audit_retention_days
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-housekeeping")

    async def stop(self) -> None:
        """Stop, then write the last uses noted since the last flush."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush_usage()

    async def flush_usage(self) -> None:
        try:
            await self.usage.flush(self.database)
        except Exception as exc:  # kept for the next flush; the gateway goes on
            log.warning("usage_flush_failed", error_type=type(exc).__name__, error=str(exc)[:300])

    async def prune(self) -> None:
        now = utcnow()
        try:
            async with self.database.session(write=True) as session:
                sessions = await SessionRepository(session).prune(before=now - SESSIONS_KEPT)
                events = 0
                if self.audit_retention_days > 0:
                    events = await AuditRepository(session).prune(
                        before=now - timedelta(days=self.audit_retention_days)
                    )
        except Exception as exc:  # tried again at the next round
            log.warning("prune_failed", error_type=type(exc).__name__, error=str(exc)[:300])
            return
        if sessions or events:
            log.info("pruned", sessions=sessions, audit_events=events)

    async def _run(self) -> None:
        pruned_at = -PRUNE_EVERY_S
        while True:
            if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                await self.prune()
            await asyncio.sleep(self.flush_every_s)
            await self.flush_usage()
