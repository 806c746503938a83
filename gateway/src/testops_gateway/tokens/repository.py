"""Every query on API tokens, and the one that authenticates a request by its token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from testops_gateway.models import ApiToken, Membership, Project, User
from testops_kit.pagination import Keyset
from testops_kit.projects import DEFAULT_PROJECT

AccessRow = Row[*tuple[Any, ...]]
"""A row of the authentication query, read by column name."""

NEWEST_FIRST = Keyset("newest", ApiToken.id, descending=True)

_TOKEN_PROJECT = aliased(Project, name="token_project")
_TARGET = aliased(Project, name="target")


async def access(session: AsyncSession, digest: bytes, project: str | None) -> AccessRow | None:
    """In one query: the token whose hash is ``digest``, its user, the project the request acts
    in (``project``, else the token's own, else the default) and the user's role in it."""
    key = (
        literal(project)
        if project is not None
        else func.coalesce(_TOKEN_PROJECT.key, DEFAULT_PROJECT)
    )
    stmt = (
        select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.scopes,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            User.id.label("user_id"),
            User.username,
            User.instance_role,
            User.deactivated_at,
            _TOKEN_PROJECT.key.label("token_project"),
            _TARGET.key.label("project"),
            _TARGET.archived_at.label("project_archived_at"),
            Membership.role,
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(_TOKEN_PROJECT, _TOKEN_PROJECT.id == ApiToken.project_id)
        .outerjoin(_TARGET, _TARGET.key == key)
        .outerjoin(
            Membership, and_(Membership.project_id == _TARGET.id, Membership.user_id == User.id)
        )
        .where(ApiToken.digest == digest)
    )
    row: AccessRow | None = (await session.execute(stmt)).first()
    return row


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: ApiToken) -> ApiToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def get_active(self, user_id: int, token_id: int) -> ApiToken | None:
        """The user's token, unless it was revoked."""
        return await self.session.scalar(
            select(ApiToken).where(
                ApiToken.id == token_id,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
            )
        )

    async def get_active_with_project(
        self, user_id: int, token_id: int
    ) -> tuple[ApiToken, str | None] | None:
        row = (
            await self.session.execute(
                select(ApiToken, Project.key)
                .outerjoin(Project, Project.id == ApiToken.project_id)
                .where(
                    ApiToken.id == token_id,
                    ApiToken.user_id == user_id,
                    ApiToken.revoked_at.is_(None),
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def list_page(
        self, user_id: int, *, cursor: str | None, limit: int
    ) -> Sequence[tuple[ApiToken, str | None]]:
        """The user's tokens that were not revoked, newest first, with their project's key."""
        stmt = (
            select(ApiToken, Project.key)
            .outerjoin(Project, Project.id == ApiToken.project_id)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        )
        stmt = NEWEST_FIRST.paginate(stmt, cursor=cursor, limit=limit)
        return [(token, key) for token, key in (await self.session.execute(stmt)).all()]
