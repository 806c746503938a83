"""Every query on sessions, and the one that authenticates a request by its session cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from testops_gateway.models import Membership, Project, Session, User
from testops_kit.projects import DEFAULT_PROJECT

AccessRow = Row[*tuple[Any, ...]]
"""A row of the authentication query, read by column name."""

_TARGET = aliased(Project, name="target")


async def access(session: AsyncSession, digest: bytes, project: str | None) -> AccessRow | None:
    """In one query: the session whose secret hashes to ``digest``, its user, the project the
    request acts in (``project``, else the default) and the user's role in it."""
    stmt = (
        select(
            Session.id,
            Session.csrf_digest,
            Session.expires_at,
            Session.last_seen_at,
            Session.revoked_at,
            User.id.label("user_id"),
            User.username,
            User.instance_role,
            User.deactivated_at,
            _TARGET.key.label("project"),
            _TARGET.archived_at.label("project_archived_at"),
            Membership.role,
        )
        .join(User, User.id == Session.user_id)
        .outerjoin(_TARGET, _TARGET.key == (project if project is not None else DEFAULT_PROJECT))
        .outerjoin(
            Membership, and_(Membership.project_id == _TARGET.id, Membership.user_id == User.id)
        )
        .where(Session.digest == digest)
    )
    row: AccessRow | None = (await session.execute(stmt)).first()
    return row


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Session) -> Session:
        self.session.add(row)
        await self.session.flush()
        return row

    async def revoke(self, session_id: int, *, at: datetime) -> None:
        await self.session.execute(
            update(Session)
            .where(Session.id == session_id, Session.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def prune(self, *, before: datetime) -> int:
        """Delete sessions that ended (expired or revoked) before ``before``."""
        result = await self.session.execute(
            delete(Session).where(or_(Session.expires_at < before, Session.revoked_at < before))
        )
        return int(getattr(result, "rowcount", 0) or 0)
