"""Routes of /audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from testops_gateway.audit import service
from testops_gateway.audit.schemas import AuditEventOut
from testops_gateway.callers import CallerDep
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.schemas import NO_NUL_PATTERN, TimestampQuery

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Read the audit log", responses=problem_responses(403, 404, 422))
async def list_audit_events(
    caller: CallerDep,
    session: SessionDep,
    project: Annotated[
        str | None,
        Query(
            max_length=16,
            pattern=NO_NUL_PATTERN,
            description="Only this project's events; required unless the caller is an admin.",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        Query(max_length=80, pattern=NO_NUL_PATTERN, description="Only this username's events."),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=NO_NUL_PATTERN,
            description="Only this action (`create_test_case`, `sign_in_failed`, …).",
        ),
    ] = None,
    since: Annotated[
        TimestampQuery | None, Query(description="Events at or after this time.")
    ] = None,
    until: Annotated[TimestampQuery | None, Query(description="Events before this time.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AuditEventOut]:
    """Every write and every sign-in, newest first. Never a body, a token or a password."""
    items, next_cursor = await service.list_events(
        session=session,
        caller=caller,
        project=project,
        actor=actor,
        action=action,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)
