"""Routes of /executions: queue a suite, follow it, cancel it, read its log.

Every execution belongs to the project it was posted in, and every route sees only the
executions of the request's project; the queue they wait in is one for all projects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from testops_executor.executions import repository
from testops_executor.executions.errors import (
    ExecutionFinished,
    ExecutionNotFound,
    QueueFull,
    RepoNotAllowed,
)
from testops_executor.executions.schemas import ExecutionCreate, ExecutionOut, Status
from testops_executor.models import Execution
from testops_executor.pipeline.checks import RepoNotAllowed as UrlRefused
from testops_executor.pipeline.checks import check_repo_url
from testops_executor.settings import ExecutorSettings
from testops_kit.app import LOCATION_HEADER
from testops_kit.database import Database, SessionDep, utcnow
from testops_kit.errors import InvalidRequest, field_error, problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import PrincipalDep, ProjectDep, api_url

router = APIRouter(prefix="/executions", tags=["executions"])

ExecutionIdPath = Annotated[
    str,
    Path(
        description="The execution's id, a UUID (any other is not found).",
        json_schema_extra={"format": "uuid"},
    ),
]

FOLLOW_POLL_S = 0.25


def _settings(request: Request) -> ExecutorSettings:
    settings: ExecutorSettings = request.app.state.settings
    return settings


def _default_run_name(repo_url: str, branch: str | None) -> str:
    name = urlsplit(repo_url).path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repo"
    return f"{name} {branch}" if branch else name


async def _get(
    session: SessionDep, project: str, execution_id: str, *, for_update: bool = False
) -> Execution:
    """The execution of ``project``; one of another project is not found, as a missing one."""
    execution = await repository.get(
        session, project=project, execution_id=execution_id, for_update=for_update
    )
    if execution is None:
        raise ExecutionNotFound(f"No execution {execution_id}.")
    return execution


async def _out(session: SessionDep, execution: Execution) -> ExecutionOut:
    # The place in the whole queue, every project's executions counted: what tells how long
    # it will wait.
    position = None
    if execution.status == "pending":
        position = (await repository.queue_positions(session)).get(execution.id)
    return ExecutionOut.of(execution, position)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a suite of a repository",
    responses={
        202: {"headers": LOCATION_HEADER},
        **problem_responses(
            422,
            429,
            descriptions={
                422: "Validation error, or a repository outside the allowed schemes and hosts "
                "(`repo_not_allowed`)",
                429: "The queue is full (`queue_full`)",
            },
        ),
    },
)
async def create_execution(
    data: ExecutionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> ExecutionOut:
    """The repository is cloned, installed with uv and its suite run with pytest when the
    executor's slot is free; the results go to the results service."""
    settings = _settings(request)
    try:
        check_repo_url(
            data.repo_url,
            schemes=settings.allowed_repo_schemes,
            hosts=settings.allowed_repo_hosts,
        )
    except UrlRefused as exc:
        raise RepoNotAllowed(
            f"The repository cannot be cloned here: {exc}.",
            errors=[field_error(["body", "repo_url"], str(exc))],
        ) from None
    timeout_s = data.timeout_s or settings.default_timeout_s
    if timeout_s > settings.max_timeout_s:
        raise InvalidRequest(
            f"timeout_s may be at most {settings.max_timeout_s}.",
            errors=[field_error(["body", "timeout_s"], f"at most {settings.max_timeout_s}")],
        )
    await repository.lock_queue(session)
    if await repository.pending_count(session) >= settings.queue_limit:
        raise QueueFull(
            f"The queue is full ({settings.queue_limit} waiting, the limit); try again later."
        )
    execution = Execution(
        id=str(uuid.uuid4()),
        project=principal.project,
        created_by=principal.name,
        status="pending",
        repo_url=data.repo_url,
        branch=data.branch,
        suite_name=data.suite.name,
        suite_params=data.suite.params,
        run_name=data.run_name or _default_run_name(data.repo_url, data.branch),
        timeout_s=timeout_s,
        created_at=utcnow(),
        log_size=0,
        log_truncated=False,
        cancel_requested=False,
    )
    session.add(execution)
    await session.flush()
    # The row is committed before the response is sent and background tasks run after it:
    # woken any sooner, the slot would look for the execution before it can be seen.
    background.add_task(request.app.state.slot.wake.set)
    response.headers["Location"] = api_url(request, f"/executions/{execution.id}")
    return await _out(session, execution)


@router.get("", summary="List executions, newest first", responses=problem_responses(422))
async def list_executions(
    project: ProjectDep,
    session: SessionDep,
    status: Annotated[list[Status], Query(description="Status; repeat for any of several.")] = [],  # noqa: B006
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ExecutionOut]:
    executions, next_cursor = await repository.list_executions(
        session, project=project, statuses=list(status), cursor=cursor, limit=limit
    )
    positions = await repository.queue_positions(session)
    return Page(
        items=[ExecutionOut.of(e, positions.get(e.id)) for e in executions],
        next_cursor=next_cursor,
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Clear finished executions")
async def clear_executions(project: ProjectDep, session: SessionDep) -> Response:
    """The project's completed, failed and cancelled executions go, with their logs; pending
    and running ones stay, and other projects' are not touched."""
    await repository.clear_finished(session, project=project)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/current",
    summary="The project's running execution",
    responses={
        200: {"model": ExecutionOut, "description": "The project's running execution."},
        204: {"description": "Nothing of the project is running."},
    },
)
async def get_current_execution(project: ProjectDep, session: SessionDep) -> Response:
    execution = await repository.current(session, project=project)
    if execution is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    body = ExecutionOut.of(execution).model_dump_json()
    return Response(body, media_type="application/json")


@router.get("/{execution_id}", summary="Get an execution", responses=problem_responses(404))
async def get_execution(
    execution_id: ExecutionIdPath, project: ProjectDep, session: SessionDep
) -> ExecutionOut:
    return await _out(session, await _get(session, project, execution_id))


@router.post(
    "/{execution_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel an execution",
    responses=problem_responses(404, 409),
)
async def cancel_execution(
    execution_id: ExecutionIdPath, project: ProjectDep, session: SessionDep
) -> ExecutionOut:
    """A pending execution is cancelled at once; a running one is stopped (its whole process
    group: TERM, then KILL after the grace period) by the process running it."""
    # Locked: a claim that commits meanwhile is waited for, and its `running` seen.
    execution = await _get(session, project, execution_id, for_update=True)
    if execution.status == "pending":
        execution.status = "cancelled"
        execution.outcome = "cancelled"
        execution.failure_reason = "cancelled_by_user"
        execution.finished_at = utcnow()
    elif execution.status == "running":
        execution.cancel_requested = True
    else:
        raise ExecutionFinished(f"Execution {execution_id} has already ended ({execution.status}).")
    return await _out(session, execution)


@router.get(
    "/{execution_id}/log",
    summary="An execution's log",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": {
                "X-Log-Size": {
                    "description": "The log's size in bytes now.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                },
                "X-More-Data": {
                    "description": "Whether more may come (the execution has not ended).",
                    "required": True,
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
            },
        },
        **problem_responses(404, 422),
    },
)
async def get_execution_log(
    execution_id: ExecutionIdPath,
    project: ProjectDep,
    request: Request,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, description="Start at this byte.")] = 0,
    follow: Annotated[bool, Query(description="Stream until the execution ends.")] = False,
) -> StreamingResponse:
    """`X-Log-Size` is the log's size now; `X-More-Data` says whether more may come."""
    execution = await _get(session, project, execution_id)
    data = await repository.log_bytes(session, execution_id, offset)
    size = execution.log_size
    more = execution.status in ("pending", "running")
    headers = {"X-Log-Size": str(size), "X-More-Data": "true" if more else "false"}
    if not follow or not more:

        async def once() -> AsyncIterator[bytes]:
            yield data

        return StreamingResponse(once(), media_type="text/plain; charset=utf-8", headers=headers)
    database: Database = request.app.state.database

    async def live() -> AsyncIterator[bytes]:
        sent = offset + len(data)
        if data:
            yield data
        while True:
            await asyncio.sleep(FOLLOW_POLL_S)
            async with database.session() as reader:
                current = await reader.get(Execution, execution_id)
                chunk = await repository.log_bytes(reader, execution_id, sent)
            if chunk:
                sent += len(chunk)
                yield chunk
            if current is None or current.status not in ("pending", "running"):
                async with database.session() as reader:
                    rest = await repository.log_bytes(reader, execution_id, sent)
                if rest:
                    yield rest
                return

    return StreamingResponse(live(), media_type="text/plain; charset=utf-8", headers=headers)
