"""Every query of /runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.pagination import Keyset
from testops_results.models import Run

DeletedFilter = Literal["exclude", "only", "include"]

NEWEST_FIRST = Keyset("runs_newest", Run.id, descending=True)


async def get(
    session: AsyncSession, run_id: int, *, project: str, deleted: bool = False
) -> Run | None:
    """The run, when it exists in ``project`` (and is not soft-deleted, unless ``deleted``)."""
    statement = select(Run).where(Run.id == run_id, Run.project == project)
    if not deleted:
        statement = statement.where(Run.deleted_at.is_(None))
    return await session.scalar(statement)


async def list_runs(
    session: AsyncSession,
    *,
    project: str,
    name: str | None,
    status: Sequence[str],
    branch: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    deleted: DeletedFilter,
    cursor: str | None,
    limit: int,
) -> tuple[list[Run], str | None]:
    statement: Select[Run] = select(Run).where(Run.project == project)
    if name is not None:
        statement = statement.where(Run.name == name)
    if status:
        statement = statement.where(Run.status.in_(status))
    if branch is not None:
        statement = statement.where(Run.branch == branch)
    if created_after is not None:
        statement = statement.where(Run.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(Run.created_at < created_before)
    if deleted == "exclude":
        statement = statement.where(Run.deleted_at.is_(None))
    elif deleted == "only":
        statement = statement.where(Run.deleted_at.is_not(None))
    statement = NEWEST_FIRST.paginate(statement, cursor=cursor, limit=limit)
    rows = (await session.scalars(statement)).all()
    return NEWEST_FIRST.page(rows, limit=limit, key=lambda run: (run.id,))
