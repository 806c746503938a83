"""Routes of /suites and their case membership."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from testops_catalog.suites import service
from testops_catalog.suites.schemas import (
    SuiteCaseAdd,
    SuiteCaseOrder,
    SuiteCaseOut,
    SuiteCreate,
    SuiteOut,
    SuiteTree,
    SuiteUpdate,
)
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.etag import IfMatch, etag_for
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep, api_url
from testops_kit.schemas import MAX_ID, NO_NUL_PATTERN, IdPath

router = APIRouter(prefix="/suites", tags=["suites"])


def _suite_response(suite: SuiteOut, response: Response) -> SuiteOut:
    response.headers["ETag"] = etag_for(suite.version)
    return suite


@router.get("", summary="List suites", responses=problem_responses(422))
async def list_suites(
    session: SessionDep,
    project: ProjectDep,
    parent_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only children of this suite.")
    ] = None,
    root: Annotated[bool, Query(description="Only root suites.")] = False,
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
) -> Page[SuiteOut]:
    """Active suites ordered by name."""
    items, next_cursor = await service.list_suites(
        session=session,
        project=project,
        parent_id=parent_id,
        root=root,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a suite",
    responses=problem_responses(409, 422),
)
async def create_suite(
    data: SuiteCreate,
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    response: Response,
) -> SuiteOut:
    suite = await service.create_suite(session=session, project=project, data=data)
    response.headers["Location"] = api_url(request, f"/suites/{suite.id}")
    return _suite_response(suite, response)


@router.get("/{suite_id}", summary="Get a suite", responses=problem_responses(404))
async def get_suite(
    suite_id: IdPath, session: SessionDep, project: ProjectDep, response: Response
) -> SuiteOut:
    return _suite_response(
        await service.get_suite(session=session, project=project, suite_id=suite_id), response
    )


@router.get(
    "/{suite_id}/tree",
    summary="Get a suite with its nested children",
    responses=problem_responses(404),
)
async def get_suite_tree(suite_id: IdPath, session: SessionDep, project: ProjectDep) -> SuiteTree:
    return await service.suite_tree(session=session, project=project, suite_id=suite_id)


@router.patch(
    "/{suite_id}",
    summary="Rename, describe or move a suite",
    responses=problem_responses(404, 409, 412, 422),
)
async def update_suite(
    suite_id: IdPath,
    data: SuiteUpdate,
    session: SessionDep,
    project: ProjectDep,
    response: Response,
    if_match: IfMatch = None,
) -> SuiteOut:
    """Only the fields present change. Moving a suite under itself or a descendant is 409
    `suite_cycle`."""
    suite = await service.update_suite(
        session=session, project=project, suite_id=suite_id, data=data, if_match=if_match
    )
    return _suite_response(suite, response)


@router.delete(
    "/{suite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a suite",
    responses=problem_responses(404, 409, 412),
)
async def delete_suite(
    suite_id: IdPath, session: SessionDep, project: ProjectDep, if_match: IfMatch = None
) -> None:
    """Soft delete: the suite's children become root suites and its case links are removed."""
    await service.delete_suite(
        session=session, project=project, suite_id=suite_id, if_match=if_match
    )


@router.get(
    "/{suite_id}/cases",
    summary="List a suite's test cases in order",
    responses=problem_responses(404, 422),
)
async def list_suite_cases(
    suite_id: IdPath,
    session: SessionDep,
    project: ProjectDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[SuiteCaseOut]:
    items, next_cursor = await service.list_suite_cases(
        session=session, project=project, suite_id=suite_id, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/{suite_id}/cases",
    status_code=status.HTTP_201_CREATED,
    summary="Add a test case to a suite",
    responses=problem_responses(404, 409, 422),
)
async def add_suite_case(
    suite_id: IdPath,
    data: SuiteCaseAdd,
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    response: Response,
) -> SuiteCaseOut:
    """Inserted at `position` (members from there on move down one), or appended."""
    link = await service.add_suite_case(
        session=session, project=project, suite_id=suite_id, data=data
    )
    response.headers["Location"] = api_url(request, f"/suites/{suite_id}/cases/{link.test_case_id}")
    return link


@router.put(
    "/{suite_id}/cases",
    summary="Set a suite's test cases and their order",
    responses=problem_responses(404, 422),
)
async def set_suite_cases(
    suite_id: IdPath, data: SuiteCaseOrder, session: SessionDep, project: ProjectDep
) -> list[SuiteCaseOut]:
    """The listed cases get positions 1, 2, 3, …; cases not listed leave the suite."""
    return await service.set_suite_cases(
        session=session, project=project, suite_id=suite_id, data=data
    )


@router.get(
    "/{suite_id}/cases/{test_case_id}",
    summary="Get a test case's place in a suite",
    responses=problem_responses(404),
)
async def get_suite_case(
    suite_id: IdPath, test_case_id: IdPath, session: SessionDep, project: ProjectDep
) -> SuiteCaseOut:
    return await service.get_suite_case(
        session=session, project=project, suite_id=suite_id, case_id=test_case_id
    )


@router.delete(
    "/{suite_id}/cases/{test_case_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a test case from a suite",
    responses=problem_responses(404),
)
async def remove_suite_case(
    suite_id: IdPath, test_case_id: IdPath, session: SessionDep, project: ProjectDep
) -> None:
    await service.remove_suite_case(
        session=session, project=project, suite_id=suite_id, case_id=test_case_id
    )
