"""Routes of /test-cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator, Field

from testops_catalog.test_cases import service
from testops_catalog.test_cases.repository import DeletedFilter, Sort
from testops_catalog.test_cases.schemas import TestCaseOut, TestCasePatch, TestCaseWrite
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.etag import IfMatch, etag_for
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep, api_url
from testops_kit.schemas import MAX_ID, NO_NUL_PATTERN, IdPath, TimestampQuery, reject_nul

router = APIRouter(prefix="/test-cases", tags=["test-cases"])


def _with_etag(case: TestCaseOut, response: Response) -> TestCaseOut:
    response.headers["ETag"] = etag_for(case.version)
    return case


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a test case",
    responses=problem_responses(409, 422),
)
async def create_test_case(
    data: TestCaseWrite,
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    response: Response,
) -> TestCaseOut:
    """Tags are strings, `{"name"}` (created when missing) or `{"id"}` (skipped when unknown);
    suite links name a root suite (`suite_name`, created when missing) or a `suite_id`."""
    case = await service.create_case(session=session, project=project, data=data)
    response.headers["Location"] = api_url(request, f"/test-cases/{case.id}")
    return _with_etag(case, response)


@router.get("", summary="List test cases", responses=problem_responses(422))
async def list_test_cases(
    session: SessionDep,
    project: ProjectDep,
    q: Annotated[
        str | None,
        Query(
            max_length=255,
            pattern=NO_NUL_PATTERN,
            description="Case-insensitive substring of name or description.",
        ),
    ] = None,
    tag: Annotated[
        list[
            Annotated[
                str,
                AfterValidator(reject_nul),
                Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
            ]
        ],
        Query(description="Tag name; repeat to require all of them."),
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    suite_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only cases in this suite.")
    ] = None,
    deleted: Annotated[
        DeletedFilter, Query(description="Soft-deleted cases: `exclude`, `only` or `include`.")
    ] = "exclude",
    updated_since: Annotated[
        TimestampQuery | None,
        Query(description="Only cases updated at or after this time (naive means UTC)."),
    ] = None,
    sort: Annotated[Sort, Query(description="`id`, `-id`, `name` or `-updated_at`.")] = "id",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[TestCaseOut]:
    items, next_cursor = await service.list_cases(
        session=session,
        project=project,
        q=q,
        tag_names=[name.strip() for name in tag if name.strip()],
        suite_id=suite_id,
        deleted=deleted,
        updated_since=updated_since,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{test_case_id}", summary="Get a test case", responses=problem_responses(404))
async def get_test_case(
    test_case_id: IdPath, session: SessionDep, project: ProjectDep, response: Response
) -> TestCaseOut:
    return _with_etag(
        await service.get_case(session=session, project=project, case_id=test_case_id), response
    )


@router.put(
    "/{test_case_id}",
    summary="Replace a test case",
    responses=problem_responses(404, 409, 412, 422),
)
async def replace_test_case(
    test_case_id: IdPath,
    data: TestCaseWrite,
    session: SessionDep,
    project: ProjectDep,
    response: Response,
    if_match: IfMatch = None,
) -> TestCaseOut:
    """Full replacement: omitted fields become null and omitted collections empty."""
    case = await service.update_case(
        session=session, project=project, case_id=test_case_id, data=data, if_match=if_match
    )
    return _with_etag(case, response)


@router.patch(
    "/{test_case_id}",
    summary="Change some fields of a test case",
    responses=problem_responses(404, 409, 412, 422),
)
async def patch_test_case(
    test_case_id: IdPath,
    data: TestCasePatch,
    session: SessionDep,
    project: ProjectDep,
    response: Response,
    if_match: IfMatch = None,
) -> TestCaseOut:
    """Only the fields present change; a collection present replaces that collection."""
    case = await service.update_case(
        session=session, project=project, case_id=test_case_id, data=data, if_match=if_match
    )
    return _with_etag(case, response)


@router.delete(
    "/{test_case_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a test case (soft)",
    responses=problem_responses(404, 412),
)
async def delete_test_case(
    test_case_id: IdPath, session: SessionDep, project: ProjectDep, if_match: IfMatch = None
) -> None:
    await service.delete_case(
        session=session, project=project, case_id=test_case_id, if_match=if_match
    )


@router.post(
    "/{test_case_id}/restore",
    summary="Restore a deleted test case",
    responses=problem_responses(404, 409),
)
async def restore_test_case(
    test_case_id: IdPath, session: SessionDep, project: ProjectDep, response: Response
) -> TestCaseOut:
    """409 `test_case_name_conflict` when an active case has taken the name meanwhile."""
    return _with_etag(
        await service.restore_case(session=session, project=project, case_id=test_case_id), response
    )
