"""Token rules: a token is shown once and kept as its SHA-256; it can do at most what its user
can in a project, and never more than the token that made it; revoking it works at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.auth import digest_of, new_token
from testops_gateway.callers import Caller, Forbidden, require_admin
from testops_gateway.models import ApiToken, Project, User
from testops_gateway.projects.repository import ProjectRepository
from testops_gateway.roles import expand
from testops_gateway.tokens.errors import TokenNotFound
from testops_gateway.tokens.repository import NEWEST_FIRST, TokenRepository
from testops_gateway.tokens.schemas import TokenCreate, TokenCreated, TokenOut
from testops_gateway.usage import UsageRecorder
from testops_gateway.users.errors import NotAServiceAccount, UserDeactivated, UserNotFound
from testops_gateway.users.repository import UserRepository
from testops_kit.database import utcnow
from testops_kit.errors import InvalidRequest, field_error

PREFIX_LENGTH = 12
"""``tst_`` and 8 characters of the secret: enough to tell tokens apart, 48 of its 256 bits."""


def token_out(token: ApiToken, project: str | None, usage: UsageRecorder) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=token.scopes.split(","),
        project=project,
        expires_at=token.expires_at,
        last_used_at=usage.token_last_use(token.id, token.last_used_at),
        created_at=token.created_at,
    )


def own_user_id(caller: Caller) -> int:
    """The caller's user id; the local admin and configured token lines have no tokens."""
    if caller.user_id is None:
        raise Forbidden(
            f"{caller.name!r} is no user and has no tokens: sign in as a user (an admin makes "
            "one with `testops-gateway create-user`)."
        )
    return caller.user_id


async def list_tokens(
    *,
    session: AsyncSession,
    user_id: int,
    usage: UsageRecorder,
    cursor: str | None,
    limit: int,
) -> tuple[list[TokenOut], str | None]:
    rows = await TokenRepository(session).list_page(user_id, cursor=cursor, limit=limit)
    page, next_cursor = NEWEST_FIRST.page(rows, limit=limit, key=lambda row: (row[0].id,))
    return [token_out(token, project, usage) for token, project in page], next_cursor


async def create_own_token(
    *, session: AsyncSession, caller: Caller, data: TokenCreate, usage: UsageRecorder
) -> TokenCreated:
    """A token of the caller's, for what the caller may do: a project it is a member of, no
    scope its own token (when it came with one) lacks."""
    user_id = own_user_id(caller)
    if caller.token_scopes is not None:
        missing = [s for s in data.scopes if s not in expand(caller.token_scopes)]
        if missing:
            raise Forbidden(
                f"The token making this one lacks {', '.join(map(repr, missing))}: a token "
                "never makes one that may do more than itself."
            )
        if caller.token_project is not None and data.project != caller.token_project:
            raise Forbidden(
                f"The token making this one is restricted to {caller.token_project}; so must "
                "the new one be."
            )
    project = await _project(session, data.project, member=None if caller.is_admin else user_id)
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    return await _create(session, user, data, project, usage)


async def create_service_token(
    *, session: AsyncSession, caller: Caller, user_id: int, data: TokenCreate, usage: UsageRecorder
) -> TokenCreated:
    """An admin makes a token for a service account (people make their own)."""
    require_admin(caller)
    user = await _user(session, user_id)
    if user.kind != "service":
        raise NotAServiceAccount(
            f"{user.username!r} is a person: people make their own tokens (POST /me/tokens)."
        )
    if not user.is_active:
        raise UserDeactivated(f"User {user.username!r} is deactivated.")
    project = await _project(session, data.project, member=None)
    return await _create(session, user, data, project, usage)


async def list_user_tokens(
    *,
    session: AsyncSession,
    caller: Caller,
    user_id: int,
    usage: UsageRecorder,
    cursor: str | None,
    limit: int,
) -> tuple[list[TokenOut], str | None]:
    require_admin(caller)
    await _user(session, user_id)
    return await list_tokens(
        session=session, user_id=user_id, usage=usage, cursor=cursor, limit=limit
    )


async def get_token(
    *, session: AsyncSession, user_id: int, token_id: int, usage: UsageRecorder
) -> TokenOut:
    found = await TokenRepository(session).get_active_with_project(user_id, token_id)
    if found is None:
        raise TokenNotFound(f"No token {token_id} of this user.")
    return token_out(*found, usage)


async def get_user_token(
    *, session: AsyncSession, caller: Caller, user_id: int, token_id: int, usage: UsageRecorder
) -> TokenOut:
    require_admin(caller)
    await _user(session, user_id)
    return await get_token(session=session, user_id=user_id, token_id=token_id, usage=usage)


async def revoke_token(*, session: AsyncSession, user_id: int, token_id: int) -> None:
    """Revoke one of ``user_id``'s tokens: the next request with it is 401."""
    token = await TokenRepository(session).get_active(user_id, token_id)
    if token is None:
        raise TokenNotFound(f"No token {token_id} of this user.")
    token.revoked_at = utcnow()
    await session.flush()


async def revoke_user_token(
    *, session: AsyncSession, caller: Caller, user_id: int, token_id: int
) -> None:
    require_admin(caller)
    await _user(session, user_id)
    await revoke_token(session=session, user_id=user_id, token_id=token_id)


async def _create(
    session: AsyncSession,
    user: User,
    data: TokenCreate,
    project: Project | None,
    usage: UsageRecorder,
) -> TokenCreated:
    now = utcnow()
    _check_expiry(data.expires_at, now)
    secret = new_token()
    token = await TokenRepository(session).add(
        ApiToken(
            user_id=user.id,
            name=data.name,
            prefix=secret[:PREFIX_LENGTH],
            digest=digest_of(secret),
            scopes=",".join(data.scopes),
            project_id=project.id if project else None,
            expires_at=data.expires_at,
            created_at=now,
        )
    )
    out = token_out(token, project.key if project else None, usage)
    return TokenCreated(**out.model_dump(), token=secret)


async def _project(session: AsyncSession, key: str | None, *, member: int | None) -> Project | None:
    """The project a new token is restricted to: one that exists, and that ``member`` (when
    given) is a member of."""
    if key is None:
        return None
    found = await ProjectRepository(session).get_with_role(key, member)
    if found is None or (member is not None and found[1] is None):
        who = "you are a member of" if member is not None else "that exists"
        raise InvalidRequest(
            f"No project {key!r} {who}.",
            errors=[field_error(["body", "project"], f"no project {key!r} {who}")],
        )
    return found[0]


async def _user(session: AsyncSession, user_id: int) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    return user


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest(
            "expires_at is in the past: a token must be usable for a while.",
            errors=[field_error(["body", "expires_at"], "must be in the future")],
        )
