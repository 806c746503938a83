"""Every query on the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.models import AuditEvent
from testops_kit.pagination import Keyset

NEWEST_FIRST = Keyset("newest", AuditEvent.at, AuditEvent.id, descending=True)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(AuditEvent), list(rows))

    async def list_page(
        self,
        *,
        project: str | None,
        actor: str | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Sequence[AuditEvent]:
        stmt = select(AuditEvent)
        if project is not None:
            stmt = stmt.where(AuditEvent.project == project)
        if actor is not None:
            stmt = stmt.where(AuditEvent.actor_username == actor)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action)
        if since is not None:
            stmt = stmt.where(AuditEvent.at >= since)
        if until is not None:
            stmt = stmt.where(AuditEvent.at < until)
        stmt = NEWEST_FIRST.paginate(stmt, cursor=cursor, limit=limit)
        return (await self.session.scalars(stmt)).all()

    async def recent(
        self, *, action: str, since: datetime, username: str, ip: str | None, limit: int
    ) -> tuple[list[datetime], list[datetime]]:
        """The times of the latest ``limit`` events of ``action`` since ``since``: those naming
        ``username``, and those from ``ip``; newest first."""

        def times(*condition: Any) -> Any:
            return (
                select(AuditEvent.at)
                .where(AuditEvent.action == action, AuditEvent.at >= since, *condition)
                .order_by(AuditEvent.at.desc())
                .limit(limit)
            )

        by_name = (await self.session.scalars(times(AuditEvent.actor_username == username))).all()
        by_ip: Iterable[datetime] = ()
        if ip is not None:
            by_ip = (await self.session.scalars(times(AuditEvent.ip == ip))).all()
        return list(by_name), list(by_ip)

    async def prune(self, *, before: datetime) -> int:
        result = await self.session.execute(delete(AuditEvent).where(AuditEvent.at < before))
        return int(getattr(result, "rowcount", 0) or 0)
