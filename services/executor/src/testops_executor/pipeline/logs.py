"""An execution's log: output kept in memory briefly and written to the database in chunks, up
to a cap; past the cap the rest is dropped and ``log_truncated`` set, while the run goes on."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import insert, update

from testops_executor.models import Execution, LogChunk
from testops_kit.database import Database
from testops_kit.logging import get_logger

FLUSH_EVERY_S = 0.5

log = get_logger(__name__)


class ExecutionLog:
    def __init__(self, database: Database, execution_id: str, *, max_bytes: int) -> None:
        self._database = database
        self._execution_id = execution_id
        self._max_bytes = max_bytes
        self._pending = bytearray()
        self._kept = 0
        self._accepted = 0
        self._truncated = False
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def write(self, data: bytes) -> None:
        # Counted when accepted, not when stored: output that arrives during a flush counts too.
        room = self._max_bytes - self._accepted
        if room <= 0:
            self._truncated = True
            return
        if len(data) > room:
            data = data[:room]
            self._truncated = True
        self._pending += data
        self._accepted += len(data)

    def line(self, text: str) -> None:
        """A line of the executor's own, between the commands' output."""
        self.write(f"[testops] {text}\n".encode())

    async def __aenter__(self) -> ExecutionLog:
        self._flusher = asyncio.create_task(self._flush_now_and_then())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await asyncio.shield(self.flush())

    async def _flush_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            try:
                await self.flush()
            except Exception:
                log.warning("log_flush_failed", exc_info=True)

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending and not self._truncated:
                return
            data, self._pending = bytes(self._pending), bytearray()
            offset = self._kept
            async with self._database.session(write=True) as session:
                if data:
                    await session.execute(
                        insert(LogChunk),
                        [{"execution_id": self._execution_id, "offset": offset, "data": data}],
                    )
                await session.execute(
                    update(Execution)
                    .where(Execution.id == self._execution_id)
                    .values(log_size=offset + len(data), log_truncated=self._truncated)
                )
            self._kept = offset + len(data)
