"""Routes of /runs: uploads, listing, soft delete and restore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.database import SessionDep, utcnow
from testops_kit.errors import InvalidRequest, field_error, problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.principal import EXECUTOR_ISSUER, Principal
from testops_kit.projects import ProjectDep, api_root, api_url, current_principal
from testops_kit.schemas import NO_NUL_PATTERN, IdPath, TimestampQuery
from testops_results.allure import Status
from testops_results.models import Run
from testops_results.reports import repository as reports
from testops_results.reports.schemas import report_url
from testops_results.reports.service import queue_build
from testops_results.reports.worker import ReportWorker
from testops_results.runs import repository
from testops_results.runs.errors import RunNotFound
from testops_results.runs.repository import DeletedFilter
from testops_results.runs.schemas import ReportState, RunOut
from testops_results.uploads.form import (
    UPLOAD_BODY,
    read_fields,
    read_files,
    shard_body,
    upload_form,
)
from testops_results.uploads.service import Ingestor

router = APIRouter(prefix="/runs", tags=["runs"])

# An upload writes objects to storage and lands within a lease, so it has more ways to be 503.
_UPLOAD_UNAVAILABLE = {
    503: (
        "Service unavailable: the database is busy (`database_busy`) or cannot be reached "
        "(`database_unavailable`), object storage does not answer (`storage_unavailable`), or "
        "the upload took too long and was abandoned (`upload_abandoned`); try again after "
        "`Retry-After` seconds"
    )
}


async def _out(session: AsyncSession, runs: Sequence[Run], *, request: Request) -> list[RunOut]:
    """The runs as returned, each with the state of its report (its URL in the form
    ``request`` used)."""
    builds = await reports.by_run(session, [run.id for run in runs])
    root = api_root(request)
    out = []
    for run in runs:
        build = builds.get(run.id)
        report = ReportState()
        if build is not None:
            report = ReportState(status=build.status, url=report_url(root, run.id, build))
        out.append(RunOut.of(run, report))
    return out


async def _read_run(request: Request, run_id: int, *, project: str) -> RunOut:
    async with request.app.state.database.session() as session:
        run = await repository.get(session, run_id, project=project)
        if run is None:
            raise RunNotFound(f"No run {run_id}.")
        [out] = await _out(session, [run], request=request)
        return out


def _check_execution(principal: Principal, execution_id: str | None) -> None:
    """An execution's principal uploads that execution's run, and no other: a key the executor
    signs with, were it ever lost, opens no other execution's run."""
    if principal.issuer != EXECUTOR_ISSUER:
        return
    if principal.subject != f"execution:{execution_id}":
        raise InvalidRequest(
            "An execution uploads its own run: execution_id must be the execution the "
            "upload's principal was signed for.",
            errors=[field_error(["body", "execution_id"], "not the signed execution")],
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload allure-results as a new run",
    responses=problem_responses(413, 422, 503, descriptions=_UPLOAD_UNAVAILABLE),
    openapi_extra=UPLOAD_BODY,
)
async def create_run(request: Request, response: Response, project: ProjectDep) -> RunOut:
    """Multipart: `run_name` and `files` — allure-results files or one `.zip`/`.tar.gz`
    archive of them. All or nothing: on any error nothing of the upload is kept. Files that are
    not valid Allure JSON are skipped and named in `warnings`. With `build_report=true` the
    run's Allure report is queued at once (`report.status` is `pending`). The run belongs to
    the project the request acts in."""
    ingestor: Ingestor = request.app.state.ingestor
    async with upload_form(request, max_files=ingestor.settings.max_upload_files) as form:
        fields = read_fields(form, require_run_name=True)
        _check_execution(current_principal(request), fields.execution_id)
        files = read_files(form)
        assert fields.run_name is not None
        now = utcnow()
        run_id = await ingestor.ingest(
            files,
            project=project,
            new_run={
                "name": fields.run_name,
                "branch": fields.branch,
                "commit": fields.commit,
                "ci_url": fields.ci_url,
                "execution_id": fields.execution_id,
                "source": "execution" if fields.execution_id else "upload",
                "created_at": now,
                "updated_at": now,
            },
        )
    if fields.build_report:
        worker: ReportWorker = request.app.state.report_worker
        await queue_build(
            database=ingestor.database,
            wake=worker.wake,
            run_id=run_id,
            project=project,
            root=api_root(request),
        )
    response.headers["Location"] = api_url(request, f"/runs/{run_id}")
    return await _read_run(request, run_id, project=project)


@router.post(
    "/{run_id}/files",
    summary="Add a shard of allure-results to a run",
    responses=problem_responses(404, 413, 422, 503, descriptions=_UPLOAD_UNAVAILABLE),
    openapi_extra=shard_body(),
)
async def add_run_files(run_id: IdPath, request: Request, project: ProjectDep) -> RunOut:
    """The same files as `POST /runs`; the run's stats are recounted across all its shards
    (a retry may arrive in a later shard than the attempt it replaces)."""
    ingestor: Ingestor = request.app.state.ingestor
    await _read_run(request, run_id, project=project)
    async with upload_form(request, max_files=ingestor.settings.max_upload_files) as form:
        read_fields(form, require_run_name=False)
        await ingestor.ingest(read_files(form), project=project, run_id=run_id)
    return await _read_run(request, run_id, project=project)


@router.get("", summary="List runs, newest first", responses=problem_responses(422))
async def list_runs(
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    name: Annotated[
        str | None, Query(max_length=255, pattern=NO_NUL_PATTERN, description="Exact run name.")
    ] = None,
    status: Annotated[
        list[Status], Query(description="Run status; repeat for any of several.")
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    branch: Annotated[
        str | None, Query(max_length=255, pattern=NO_NUL_PATTERN, description="Exact branch.")
    ] = None,
    created_after: Annotated[
        TimestampQuery | None,
        Query(description="Only runs created at or after this time (naive means UTC)."),
    ] = None,
    created_before: Annotated[
        TimestampQuery | None,
        Query(description="Only runs created before this time (naive means UTC)."),
    ] = None,
    deleted: Annotated[
        DeletedFilter, Query(description="Soft-deleted runs: `exclude`, `only` or `include`.")
    ] = "exclude",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[RunOut]:
    runs, next_cursor = await repository.list_runs(
        session,
        project=project,
        name=name,
        status=status,
        branch=branch,
        created_after=created_after,
        created_before=created_before,
        deleted=deleted,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=await _out(session, runs, request=request), next_cursor=next_cursor)


@router.get("/{run_id}", summary="Get a run", responses=problem_responses(404, 422))
async def get_run(
    run_id: IdPath, session: SessionDep, project: ProjectDep, request: Request
) -> RunOut:
    run = await repository.get(session, run_id, project=project)
    if run is None:
        raise RunNotFound(f"No run {run_id}.")
    [out] = await _out(session, [run], request=request)
    return out


@router.delete(
    "/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a run (soft)",
    responses=problem_responses(404, 422),
)
async def delete_run(run_id: IdPath, session: SessionDep, project: ProjectDep) -> Response:
    """The run disappears from listings and history; `POST /runs/{id}/restore` brings it back."""
    run = await repository.get(session, run_id, project=project)
    if run is None:
        raise RunNotFound(f"No run {run_id}.")
    run.deleted_at = run.updated_at = utcnow()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{run_id}/restore", summary="Restore a deleted run", responses=problem_responses(404, 422)
)
async def restore_run(
    run_id: IdPath, session: SessionDep, project: ProjectDep, request: Request
) -> RunOut:
    """Restoring a run that is not deleted changes nothing."""
    run = await repository.get(session, run_id, project=project, deleted=True)
    if run is None:
        raise RunNotFound(f"No run {run_id}.")
    if run.deleted_at is not None:
        run.deleted_at = None
        run.updated_at = utcnow()
    [out] = await _out(session, [run], request=request)
    return out
