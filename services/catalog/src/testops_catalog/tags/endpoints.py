"""Routes of /tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from testops_catalog.tags import service
from testops_catalog.tags.schemas import TagCreate, TagOut, TagUpdate
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep, api_url
from testops_kit.schemas import NO_NUL_PATTERN, IdPath

router = APIRouter(prefix="/tags", tags=["tags"])


@router.get("", summary="List tags", responses=problem_responses(422))
async def list_tags(
    session: SessionDep,
    project: ProjectDep,
    q: Annotated[
        str | None,
        Query(
            max_length=255,
            pattern=NO_NUL_PATTERN,
            description="Case-insensitive substring of the name.",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TagOut]:
    """Tags ordered by name, each with the number of active cases carrying it.

    `q` matches a case-insensitive substring of the name.
    """
    items, next_cursor = await service.list_tags(
        session=session, project=project, q=q, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a tag",
    responses=problem_responses(409, 422),
)
async def create_tag(
    data: TagCreate, session: SessionDep, project: ProjectDep, request: Request, response: Response
) -> TagOut:
    tag = await service.create_tag(session=session, project=project, data=data)
    response.headers["Location"] = api_url(request, f"/tags/{tag.id}")
    return tag


@router.get("/{tag_id}", summary="Get a tag", responses=problem_responses(404))
async def get_tag(tag_id: IdPath, session: SessionDep, project: ProjectDep) -> TagOut:
    return await service.get_tag(session=session, project=project, tag_id=tag_id)


@router.patch("/{tag_id}", summary="Rename a tag", responses=problem_responses(404, 409, 422))
async def rename_tag(
    tag_id: IdPath, data: TagUpdate, session: SessionDep, project: ProjectDep
) -> TagOut:
    return await service.rename_tag(session=session, project=project, tag_id=tag_id, data=data)


@router.delete(
    "/{tag_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a tag and unlink it from every case",
    responses=problem_responses(404),
)
async def delete_tag(tag_id: IdPath, session: SessionDep, project: ProjectDep) -> None:
    await service.delete_tag(session=session, project=project, tag_id=tag_id)
