"""Who reads the audit log: an instance admin all of it, an owner its project's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.audit.repository import NEWEST_FIRST, AuditRepository
from testops_gateway.audit.schemas import AuditActor, AuditEventOut
from testops_gateway.callers import Caller, Forbidden
from testops_gateway.models import AuditEvent
from testops_gateway.projects.service import require_manage, visible_project


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        at=event.at,
        actor=AuditActor(id=event.actor_id, username=event.actor_username),
        token_id=event.token_id,
        project=event.project,
        method=event.method,
        path=event.path,
        action=event.action,
        resource=event.resource,
        status=event.status,
        request_id=event.request_id,
        ip=event.ip,
    )


async def list_events(
    *,
    session: AsyncSession,
    caller: Caller,
    project: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEventOut], str | None]:
    if project is not None:
        found, role = await visible_project(session, caller, project)
        require_manage(caller, found, role)
    elif not caller.is_admin:
        raise Forbidden(
            "The whole audit log is for instance admins; an owner reads its project's with "
            "?project=KEY."
        )
    rows = await AuditRepository(session).list_page(
        project=project,
        actor=actor,
        action=action,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    page, next_cursor = NEWEST_FIRST.page(rows, limit=limit, key=lambda e: (e.at, e.id))
    return [event_out(event) for event in page], next_cursor
