"""Every query on users."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.models import ApiToken, Session, User
from testops_kit.pagination import Keyset

BY_ID = Keyset("id", User.id)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self.session.scalar(select(User).where(User.username == username))

    async def list_page(
        self,
        *,
        q: str | None,
        kind: str | None,
        active: bool | None,
        cursor: str | None,
        limit: int,
    ) -> Sequence[User]:
        stmt = select(User)
        if q:
            escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(User.username.like(f"%{escaped}%", escape="\\"))
        if kind is not None:
            stmt = stmt.where(User.kind == kind)
        if active is not None:
            stmt = stmt.where(
                User.deactivated_at.is_(None) if active else User.deactivated_at.is_not(None)
            )
        stmt = BY_ID.paginate(stmt, cursor=cursor, limit=limit)
        return (await self.session.scalars(stmt)).all()

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def count_active_admins(self) -> int:
        stmt = select(func.count()).where(
            User.instance_role == "admin", User.deactivated_at.is_(None)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def any_admin_can_sign_in(self) -> bool:
        stmt = select(User.id).where(
            User.instance_role == "admin",
            User.deactivated_at.is_(None),
            User.password_hash.is_not(None),
        )
        return await self.session.scalar(stmt.limit(1)) is not None

    async def revoke_credentials(self, user_id: int, *, at: datetime) -> None:
        """Revoke every token and session of ``user_id``."""
        await self.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        await self.session.execute(
            update(Session)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None))
            .values(revoked_at=at)
        )
