"""Routes of /projects and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from testops_gateway.callers import CallerDep
from testops_gateway.projects import service
from testops_gateway.projects.schemas import (
    MemberOut,
    MemberPut,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.schemas import IdPath

router = APIRouter(prefix="/projects", tags=["projects"])

KeyPath = Annotated[str, Path(max_length=16, description="The project's key.", examples=["SHOP"])]


@router.get("", summary="List the caller's projects", responses=problem_responses(422))
async def list_projects(
    caller: CallerDep,
    session: SessionDep,
    include_archived: Annotated[bool, Query(description="Also the archived projects.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ProjectOut]:
    """The projects the caller is a member of, by key; every project for an instance admin."""
    items, next_cursor = await service.list_projects(
        session=session,
        caller=caller,
        include_archived=include_archived,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a project",
    responses=problem_responses(403, 409, 422),
)
async def create_project(
    data: ProjectCreate, caller: CallerDep, session: SessionDep, response: Response
) -> ProjectOut:
    project = await service.create_project(session=session, caller=caller, data=data)
    response.headers["Location"] = f"/api/v1/projects/{project.key}"
    return project


@router.get("/{project_key}", summary="Get a project", responses=problem_responses(404))
async def get_project(project_key: KeyPath, caller: CallerDep, session: SessionDep) -> ProjectOut:
    return await service.get_project(session=session, caller=caller, key=project_key)


@router.patch(
    "/{project_key}",
    summary="Rename or describe a project",
    responses=problem_responses(403, 404, 409, 422),
)
async def update_project(
    project_key: KeyPath, data: ProjectUpdate, caller: CallerDep, session: SessionDep
) -> ProjectOut:
    return await service.update_project(session=session, caller=caller, key=project_key, data=data)


@router.delete(
    "/{project_key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Archive a project",
    responses=problem_responses(403, 404),
)
async def archive_project(project_key: KeyPath, caller: CallerDep, session: SessionDep) -> None:
    """The project stays, read-only: every write in it answers 409 `project_archived`."""
    await service.archive_project(session=session, caller=caller, key=project_key)


@router.post(
    "/{project_key}/restore",
    summary="Restore an archived project",
    responses=problem_responses(403, 404),
)
async def restore_project(
    project_key: KeyPath, caller: CallerDep, session: SessionDep
) -> ProjectOut:
    return await service.restore_project(session=session, caller=caller, key=project_key)


@router.get(
    "/{project_key}/members",
    summary="List a project's members",
    responses=problem_responses(404, 422),
)
async def list_members(
    project_key: KeyPath,
    caller: CallerDep,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[MemberOut]:
    items, next_cursor = await service.list_members(
        session=session, caller=caller, key=project_key, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{project_key}/members/{user_id}",
    summary="Get a member",
    responses=problem_responses(404),
)
async def get_member(
    project_key: KeyPath, user_id: IdPath, caller: CallerDep, session: SessionDep
) -> MemberOut:
    return await service.get_member(
        session=session, caller=caller, key=project_key, user_id=user_id
    )


@router.put(
    "/{project_key}/members/{user_id}",
    summary="Make a user a member, or change its role",
    responses={
        201: {"description": "The user was made a member.", "model": MemberOut},
        **problem_responses(403, 404, 409, 422),
    },
)
async def put_member(
    project_key: KeyPath,
    user_id: IdPath,
    data: MemberPut,
    caller: CallerDep,
    session: SessionDep,
    response: Response,
) -> MemberOut:
    """200 when the role of a member changed (or stayed), 201 when the user became one."""
    member, created = await service.put_member(
        session=session, caller=caller, key=project_key, user_id=user_id, role=data.role
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/api/v1/projects/{project_key}/members/{user_id}"
    return member


@router.delete(
    "/{project_key}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    responses=problem_responses(403, 404, 409),
)
async def remove_member(
    project_key: KeyPath, user_id: IdPath, caller: CallerDep, session: SessionDep
) -> None:
    await service.remove_member(session=session, caller=caller, key=project_key, user_id=user_id)
