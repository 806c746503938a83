"""Every query of /executions: a project's executions, and the one queue of every project's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from testops_executor.models import Execution, LogChunk
from testops_kit.pagination import Keyset

NEWEST_FIRST = Keyset("executions_newest", Execution.created_at, Execution.id, descending=True)
FINISHED = ("completed", "failed", "cancelled")


QUEUE_LOCK = 0x7E57_0E5E
"""The PostgreSQL advisory lock that makes "count the pending, then add one" one step."""


async def lock_queue(session: AsyncSession) -> None:
    """Hold the queue until the transaction ends, so concurrent posts respect the limit.
    SQLite's write transaction (BEGIN IMMEDIATE) already serializes them."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": QUEUE_LOCK})


async def get(
    session: AsyncSession, *, project: str, execution_id: str, for_update: bool = False
) -> Execution | None:
    """The execution ``execution_id`` of ``project`` (locked until the transaction ends when
    ``for_update``); None for one of another project too."""
    statement = select(Execution).where(Execution.id == execution_id, Execution.project == project)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def pending_count(session: AsyncSession) -> int:
    """Executions waiting, of every project: the queue's limit is the executor pool's."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Execution).where(Execution.status == "pending")
        )
        or 0
    )


async def queue_positions(session: AsyncSession) -> dict[str, int]:
    """Each pending execution's place in the queue, 1 for the next one, every project's
    counted: the queue is one."""
    ids = (
        await session.scalars(
            select(Execution.id)
            .where(Execution.status == "pending")
            .order_by(Execution.created_at, Execution.id)
        )
    ).all()
    return {execution_id: place for place, execution_id in enumerate(ids, start=1)}


async def list_executions(
    session: AsyncSession,
    *,
    project: str,
    statuses: Sequence[str],
    cursor: str | None,
    limit: int,
) -> tuple[list[Execution], str | None]:
    statement: Select[Execution] = select(Execution).where(Execution.project == project)
    if statuses:
        statement = statement.where(Execution.status.in_(statuses))
    rows = (
        await session.scalars(NEWEST_FIRST.paginate(statement, cursor=cursor, limit=limit))
    ).all()
    return NEWEST_FIRST.page(rows, limit=limit, key=lambda e: (e.created_at, e.id))


async def current(session: AsyncSession, *, project: str) -> Execution | None:
    """The running execution of ``project``, if any."""
    return await session.scalar(
        select(Execution)
        .where(Execution.project == project, Execution.status == "running")
        .order_by(Execution.started_at, Execution.id)
        .limit(1)
    )


async def clear_finished(session: AsyncSession, *, project: str) -> None:
    """Remove ``project``'s finished executions and their logs."""
    finished = (Execution.project == project, Execution.status.in_(FINISHED))
    await session.execute(
        delete(LogChunk).where(LogChunk.execution_id.in_(select(Execution.id).where(*finished)))
    )
    await session.execute(delete(Execution).where(*finished))


async def log_bytes(session: AsyncSession, execution_id: str, offset: int) -> bytes:
    """The log from byte ``offset`` to what is stored now."""
    chunks = (
        await session.execute(
            select(LogChunk.offset, LogChunk.data)
            .where(LogChunk.execution_id == execution_id)
            .where(LogChunk.offset + func.length(LogChunk.data) > offset)
            .order_by(LogChunk.offset)
        )
    ).all()
    parts = [data[max(0, offset - start) :] for start, data in chunks]
    return b"".join(parts)
