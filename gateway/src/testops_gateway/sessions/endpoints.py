"""Routes of /auth: signing in and out of a browser session."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from testops_gateway.audit.writer import AuditDep
from testops_gateway.callers import OptionalCallerDep
from testops_gateway.database import DatabaseDep, SettingsDep
from testops_gateway.passwords import PasswordsDep
from testops_gateway.sessions import service
from testops_gateway.sessions.cookies import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    clear_session_cookies,
    is_https,
    set_session_cookies,
)
from testops_gateway.sessions.schemas import SignIn
from testops_kit.errors import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])


def _where(request: Request) -> service.Where:
    client = request.scope.get("client")
    return service.Where(
        ip=client[0] if client else None,
        request_id=request.scope.get("state", {}).get("request_id"),
    )


@router.post(
    "/login",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign in",
    responses={
        204: {
            "description": f"Signed in: `{SESSION_COOKIE}` (HttpOnly) and `{CSRF_COOKIE}` are set; "
            f"send the latter's value in `{CSRF_HEADER}` with every write."
        },
        **problem_responses(401, 422, 429),
    },
)
async def sign_in(
    data: SignIn,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    audit: AuditDep,
) -> Response:
    """Wrong credentials are 401 `invalid_credentials`, whether the user exists or not; after
    too many failures for a username or from an address, 429 with `Retry-After`."""
    new = await service.sign_in(
        database=database,
        username=data.username,
        password=data.password.get_secret_value(),
        where=_where(request),
        passwords=passwords,
        audit=audit,
        settings=settings,
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    set_session_cookies(
        response,
        secret=new.secret,
        csrf=new.csrf,
        max_age=new.max_age,
        secure=is_https(request.scope),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    responses=problem_responses(403),
)
async def sign_out(
    request: Request, caller: OptionalCallerDep, database: DatabaseDep, audit: AuditDep
) -> Response:
    """Ends the session the cookie names (a write: `X-CSRF-Token` is needed with it) and
    clears the cookies; 204 also without a session."""
    await service.sign_out(
        database=database,
        session_id=caller.session_id if caller else None,
        user_id=caller.user_id if caller else None,
        username=caller.name if caller else None,
        where=_where(request),
        audit=audit,
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, secure=is_https(request.scope))
    return response
