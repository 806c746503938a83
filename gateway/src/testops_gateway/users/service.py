"""User rules: usernames are unique whatever their case; deactivating a user revokes its tokens
and sessions at once; the last active admin stays one."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.callers import LOCAL_ADMIN_NAME, Caller, require_admin
from testops_gateway.models import User
from testops_gateway.passwords import Passwords
from testops_gateway.projects.repository import ProjectRepository
from testops_gateway.roles import ADMIN
from testops_gateway.users.errors import LastAdmin, UsernameConflict, UserNotFound
from testops_gateway.users.repository import BY_ID, UserRepository
from testops_gateway.users.schemas import MeOut, MeProject, UserCreate, UserOut, UserUpdate
from testops_kit.database import utcnow
from testops_kit.errors import InvalidRequest, field_error


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        instance_role="admin" if user.instance_role == ADMIN else "user",
        kind="service" if user.kind == "service" else "human",
        is_active=user.is_active,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        updated_at=user.updated_at,
        deactivated_at=user.deactivated_at,
    )


async def get_me(*, session: AsyncSession, caller: Caller) -> MeOut:
    projects = ProjectRepository(session)
    if caller.user_id is None:
        # The local admin and configured token lines: instance admins with no user behind them.
        return MeOut(
            id=None,
            username=caller.name,
            display_name="Local admin" if caller.name == LOCAL_ADMIN_NAME else None,
            email=None,
            instance_role="admin",
            kind="builtin",
            projects=[
                MeProject(key=p.key, name=p.name, role=ADMIN) for p in await projects.active()
            ],
        )
    user = await UserRepository(session).get(caller.user_id)
    if user is None:
        raise UserNotFound(f"User {caller.user_id} does not exist.")
    if caller.is_admin:
        roles = dict((p.key, role) for p, role in await projects.memberships_of(user.id))
        mine = [
            MeProject(key=p.key, name=p.name, role=roles.get(p.key, ADMIN))
            for p in await projects.active()
        ]
    else:
        mine = [
            MeProject(key=p.key, name=p.name, role=role)
            for p, role in await projects.memberships_of(user.id)
        ]
    if caller.token_project is not None:
        mine = [p for p in mine if p.key == caller.token_project]
    out = user_out(user)
    return MeOut(
        id=out.id,
        username=out.username,
        display_name=out.display_name,
        email=out.email,
        instance_role=out.instance_role,
        kind=out.kind,
        projects=mine,
    )


async def list_users(
    *,
    session: AsyncSession,
    caller: Caller,
    q: str | None,
    kind: str | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[UserOut], str | None]:
    require_admin(caller)
    rows = await UserRepository(session).list_page(
        q=q, kind=kind, active=active, cursor=cursor, limit=limit
    )
    page, next_cursor = BY_ID.page(rows, limit=limit, key=lambda user: (user.id,))
    return [user_out(user) for user in page], next_cursor


async def get_user(*, session: AsyncSession, caller: Caller, user_id: int) -> UserOut:
    require_admin(caller)
    return user_out(await _existing(session, user_id))


async def hash_password(passwords: Passwords, password: SecretStr | None) -> str | None:
    """The hash to store for ``password``; made before any transaction begins (it takes a
    while, and SQLite's write lock would be held meanwhile)."""
    return None if password is None else await passwords.hash(password.get_secret_value())


async def create_user(
    *, session: AsyncSession, caller: Caller, data: UserCreate, password_hash: str | None
) -> UserOut:
    require_admin(caller)
    return user_out(await add_user(session=session, data=data, password_hash=password_hash))


async def add_user(*, session: AsyncSession, data: UserCreate, password_hash: str | None) -> User:
    """Make a user (also what ``testops-gateway create-user`` does)."""
    users = UserRepository(session)
    if await users.get_by_username(data.username) is not None:
        raise _conflict(data.username)
    now = utcnow()
    user = User(
        username=data.username,
        display_name=data.display_name,
        email=data.email,
        password_hash=password_hash,
        instance_role=data.instance_role,
        kind=data.kind,
        created_at=now,
        updated_at=now,
    )
    try:
        return await users.add(user)
    except IntegrityError:  # made by someone else since the check
        raise _conflict(data.username) from None


async def update_user(
    *,
    session: AsyncSession,
    caller: Caller,
    user_id: int,
    data: UserUpdate,
    password_hash: str | None,
) -> UserOut:
    """``password_hash``: the hash of ``data.password`` when it is given."""
    require_admin(caller)
    users = UserRepository(session)
    user = await _existing(session, user_id)
    fields = data.model_fields_set
    now = utcnow()
    demoted = "instance_role" in fields and data.instance_role != ADMIN
    deactivated = "is_active" in fields and data.is_active is False
    if user.instance_role == ADMIN and user.is_active and (demoted or deactivated):
        await _keep_an_admin(users, user)
    if "display_name" in fields:
        user.display_name = data.display_name
    if "email" in fields:
        user.email = data.email
    if "password" in fields:
        if data.password is not None and user.kind == "service":
            raise _service_password()
        user.password_hash = password_hash
    if data.instance_role is not None:
        user.instance_role = data.instance_role
    if data.is_active is True:
        user.deactivated_at = None
    elif data.is_active is False and user.deactivated_at is None:
        user.deactivated_at = now
        await users.revoke_credentials(user.id, at=now)
    user.updated_at = now
    await session.flush()
    return user_out(user)


async def deactivate_user(*, session: AsyncSession, caller: Caller, user_id: int) -> None:
    """Deactivate: every token and session of the user stops working at once; the user (and
    the history naming it) stays."""
    require_admin(caller)
    users = UserRepository(session)
    user = await _existing(session, user_id)
    if not user.is_active:
        return
    if user.instance_role == ADMIN:
        await _keep_an_admin(users, user)
    now = utcnow()
    user.deactivated_at = now
    user.updated_at = now
    await users.revoke_credentials(user.id, at=now)
    await session.flush()


async def _existing(session: AsyncSession, user_id: int) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    return user


async def _keep_an_admin(users: UserRepository, user: User) -> None:
    if await users.count_active_admins() <= 1:
        raise LastAdmin(f"{user.username!r} is the last active admin; make another admin first.")


def _conflict(username: str) -> UsernameConflict:
    return UsernameConflict(f"A user named {username!r} exists already.")


def _service_password() -> InvalidRequest:
    return InvalidRequest(
        "A service account signs in with tokens, never with a password.",
        errors=[field_error(["body", "password"], "a service account has no password")],
    )
