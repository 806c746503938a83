"""Every query on projects and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.models import Membership, Project, User
from testops_kit.pagination import Keyset

BY_KEY = Keyset("key", Project.key)
MEMBERS_BY_USER = Keyset("user", Membership.user_id)


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> Project | None:
        return await self.session.scalar(select(Project).where(Project.key == key))

    async def get_with_role(
        self, key: str, user_id: int | None
    ) -> tuple[Project, str | None] | None:
        """The project and ``user_id``'s role in it (None: not a member)."""
        row = (
            await self.session.execute(self._with_role(user_id).where(Project.key == key))
        ).first()
        return None if row is None else (row[0], row[1])

    async def archived_at(self, key: str) -> tuple[bool, datetime | None]:
        """Whether the project exists, and when it was archived."""
        row = (
            await self.session.execute(select(Project.archived_at).where(Project.key == key))
        ).first()
        return (False, None) if row is None else (True, row[0])

    async def list_page(
        self,
        *,
        user_id: int | None,
        members_only: bool,
        only_key: str | None,
        include_archived: bool,
        cursor: str | None,
        limit: int,
    ) -> Sequence[tuple[Project, str | None]]:
        """Projects with ``user_id``'s role in each; ``members_only``: those it is a member of."""
        stmt = self._with_role(user_id)
        if members_only:
            stmt = stmt.where(Membership.role.is_not(None))
        if only_key is not None:
            stmt = stmt.where(Project.key == only_key)
        if not include_archived:
            stmt = stmt.where(Project.archived_at.is_(None))
        stmt = BY_KEY.paginate(stmt, cursor=cursor, limit=limit)
        return [(project, role) for project, role in (await self.session.execute(stmt)).all()]

    async def memberships_of(self, user_id: int) -> Sequence[tuple[Project, str]]:
        """The active projects ``user_id`` is a member of, by key, with its role."""
        stmt = (
            select(Project, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == user_id, Project.archived_at.is_(None))
            .order_by(Project.key)
        )
        return [(project, role) for project, role in (await self.session.execute(stmt)).all()]

    async def active(self) -> Sequence[Project]:
        stmt = select(Project).where(Project.archived_at.is_(None)).order_by(Project.key)
        return (await self.session.scalars(stmt)).all()

    async def add(self, project: Project) -> Project:
        self.session.add(project)
        await self.session.flush()
        return project

    async def list_members(
        self, project_id: int, *, cursor: str | None, limit: int
    ) -> Sequence[tuple[Membership, User]]:
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.project_id == project_id)
        )
        stmt = MEMBERS_BY_USER.paginate(stmt, cursor=cursor, limit=limit)
        return [(member, user) for member, user in (await self.session.execute(stmt)).all()]

    async def get_membership(self, project_id: int, user_id: int) -> Membership | None:
        return await self.session.get(Membership, (project_id, user_id))

    async def add_membership(self, membership: Membership) -> Membership:
        self.session.add(membership)
        await self.session.flush()
        return membership

    async def delete_membership(self, membership: Membership) -> None:
        await self.session.delete(membership)
        await self.session.flush()

    @staticmethod
    def _with_role(user_id: int | None) -> Select[Project, str | None]:
        return select(Project, Membership.role).outerjoin(
            Membership,
            and_(Membership.project_id == Project.id, Membership.user_id == user_id),
        )
