"""Project rules: keys are unique and never change; members see a project, owners (and
admins) change it and its members; only admins create and archive projects; an archived project
is read-only. A project the caller may not see answers as one that does not exist."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from testops_gateway.callers import Caller, Forbidden, require_admin
from testops_gateway.models import Membership, Project, User
from testops_gateway.projects.errors import (
    MemberNotFound,
    ProjectArchived,
    ProjectKeyConflict,
    ProjectNotFound,
)
from testops_gateway.projects.repository import BY_KEY, MEMBERS_BY_USER, ProjectRepository
from testops_gateway.projects.schemas import (
    MemberOut,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)
from testops_gateway.roles import ADMIN, ProjectRole
from testops_gateway.users.errors import UserDeactivated, UserNotFound
from testops_gateway.users.repository import UserRepository
from testops_kit.database import utcnow


def project_out(project: Project, role: str | None) -> ProjectOut:
    return ProjectOut(
        key=project.key,
        name=project.name,
        description=project.description,
        created_at=project.created_at,
        updated_at=project.updated_at,
        archived_at=project.archived_at,
        is_archived=project.archived_at is not None,
        role=role,
    )


def member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        kind=user.kind,
        is_active=user.is_active,
        role=membership.role,
        created_at=membership.created_at,
        updated_at=membership.updated_at,
    )


async def visible_project(session: AsyncSession, caller: Caller, key: str) -> tuple[Project, str]:
    """The project and the caller's role in it (``admin`` for an instance admin who is not a
    member); :class:`ProjectNotFound` when it does not exist or the caller may not see it."""
    if caller.token_project is not None and key != caller.token_project:
        raise _not_found(key)
    found = await ProjectRepository(session).get_with_role(key, caller.user_id)
    if found is None:
        raise _not_found(key)
    project, role = found
    if caller.is_admin:
        return project, role or ADMIN
    if role is None:
        raise _not_found(key)
    return project, role


def require_manage(caller: Caller, project: Project, role: str) -> None:
    """Owners and admins manage a project."""
    if role not in ("owner", ADMIN):
        raise Forbidden(
            f"Managing project {project.key} needs the scope 'manage' (its owners have it); "
            f"{caller.name!r} is its {role}."
        )


async def list_projects(
    *,
    session: AsyncSession,
    caller: Caller,
    include_archived: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProjectOut], str | None]:
    rows = await ProjectRepository(session).list_page(
        user_id=caller.user_id,
        members_only=not caller.is_admin,
        only_key=caller.token_project,
        include_archived=include_archived,
        cursor=cursor,
        limit=limit,
    )
    page, next_cursor = BY_KEY.page(rows, limit=limit, key=lambda row: (row[0].key,))
    default_role = ADMIN if caller.is_admin else None
    return [project_out(p, role or default_role) for p, role in page], next_cursor


async def create_project(
    *, session: AsyncSession, caller: Caller, data: ProjectCreate
) -> ProjectOut:
    require_admin(caller)
    projects = ProjectRepository(session)
    if await projects.get(data.key) is not None:
        raise _conflict(data.key)
    now = utcnow()
    project = Project(
        key=data.key,
        name=data.name,
        description=data.description,
        created_at=now,
        updated_at=now,
    )
    try:
        await projects.add(project)
    except IntegrityError:  # made by someone else since the check
        raise _conflict(data.key) from None
    return project_out(project, ADMIN)


async def get_project(*, session: AsyncSession, caller: Caller, key: str) -> ProjectOut:
    project, role = await visible_project(session, caller, key)
    return project_out(project, role)


async def update_project(
    *, session: AsyncSession, caller: Caller, key: str, data: ProjectUpdate
) -> ProjectOut:
    project, role = await visible_project(session, caller, key)
    require_manage(caller, project, role)
    _writable(project)
    fields = data.model_fields_set
    if "name" in fields and data.name is not None:
        project.name = data.name
    if "description" in fields:
        project.description = data.description
    project.updated_at = utcnow()
    await session.flush()
    return project_out(project, role)


async def archive_project(*, session: AsyncSession, caller: Caller, key: str) -> None:
    """Archive: the project stays readable; every write in it is 409 ``project_archived``."""
    project, _ = await visible_project(session, caller, key)
    require_admin(caller)
    if project.archived_at is None:
        project.archived_at = project.updated_at = utcnow()
        await session.flush()


async def restore_project(*, session: AsyncSession, caller: Caller, key: str) -> ProjectOut:
    project, role = await visible_project(session, caller, key)
    require_admin(caller)
    if project.archived_at is not None:
        project.archived_at = None
        project.updated_at = utcnow()
        await session.flush()
    return project_out(project, role)


async def list_members(
    *, session: AsyncSession, caller: Caller, key: str, cursor: str | None, limit: int
) -> tuple[list[MemberOut], str | None]:
    project, _ = await visible_project(session, caller, key)
    rows = await ProjectRepository(session).list_members(project.id, cursor=cursor, limit=limit)
    page, next_cursor = MEMBERS_BY_USER.page(rows, limit=limit, key=lambda row: (row[0].user_id,))
    return [member_out(m, u) for m, u in page], next_cursor


async def get_member(*, session: AsyncSession, caller: Caller, key: str, user_id: int) -> MemberOut:
    project, _ = await visible_project(session, caller, key)
    projects = ProjectRepository(session)
    membership = await projects.get_membership(project.id, user_id)
    user = await UserRepository(session).get(user_id)
    if membership is None or user is None:
        raise MemberNotFound(f"User {user_id} is not a member of {project.key}.")
    return member_out(membership, user)


async def put_member(
    *, session: AsyncSession, caller: Caller, key: str, user_id: int, role: ProjectRole
) -> tuple[MemberOut, bool]:
    """Give ``user_id`` ``role`` in the project; whether it was made a member just now."""
    project, caller_role = await visible_project(session, caller, key)
    require_manage(caller, project, caller_role)
    _writable(project)
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    if not user.is_active:
        raise UserDeactivated(f"User {user.username!r} is deactivated.")
    projects = ProjectRepository(session)
    now = utcnow()
    membership = await projects.get_membership(project.id, user.id)
    created = membership is None
    if membership is None:
        membership = await projects.add_membership(
            Membership(
                project_id=project.id, user_id=user.id, role=role, created_at=now, updated_at=now
            )
        )
    elif membership.role != role:
        membership.role = role
        membership.updated_at = now
        await session.flush()
    return member_out(membership, user), created


async def remove_member(*, session: AsyncSession, caller: Caller, key: str, user_id: int) -> None:
    project, caller_role = await visible_project(session, caller, key)
    require_manage(caller, project, caller_role)
    _writable(project)
    projects = ProjectRepository(session)
    membership = await projects.get_membership(project.id, user_id)
    if membership is None:
        raise MemberNotFound(f"User {user_id} is not a member of {project.key}.")
    await projects.delete_membership(membership)


def _writable(project: Project) -> None:
    if project.archived_at is not None:
        raise ProjectArchived(f"Project {project.key} is archived: it is read-only.")


def _not_found(key: str) -> ProjectNotFound:
    return ProjectNotFound(f"No project {key!r}.")


def _conflict(key: str) -> ProjectKeyConflict:
    return ProjectKeyConflict(f"A project with the key {key!r} exists already.")
