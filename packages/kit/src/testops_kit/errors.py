"""One exception family, rendered as RFC 9457 problem details.

Every error a client sees is ``application/problem+json`` with a machine ``code``::

    class CaseNameConflict(Conflict):
        code = "test_case_name_conflict"
        title = "Test case name conflict"

    raise CaseNameConflict("An active test case named 'Login' exists (id 12).")

:func:`install_error_handlers` renders our errors, request validation failures, routing
404/405, SQLite lock timeouts and anything unexpected, so no error leaves as HTML or as an
unexplained 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from testops_kit.logging import get_logger
from testops_kit.requests import REQUEST_ID_HEADER
from testops_kit.routing import allowed_methods

PROBLEM_CONTENT_TYPE = "application/problem+json"

log = get_logger(__name__)


class ErrorItem(BaseModel):
    """One field at fault."""

    loc: list[str | int] = Field(description="Where the fault is, e.g. `['body', 'steps', 1]`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with a machine-readable `code`."""

    type: str = Field(examples=["urn:testops:problem:validation_error"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine code of the error.")
    errors: list[ErrorItem] | None = Field(default=None, description="The fields at fault.")


class TestOpsError(Exception):
    """Base of every error a TestOps service raises on purpose.

    Subclasses set ``status_code``, ``code`` and ``title``; an instance carries the human
    ``detail``, optional field ``errors`` and extra response ``headers``.
    """

    __test__ = False  # not a pytest test class

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"
    retry_after: ClassVar[int | None] = None
    """Seconds a client should wait before retrying; sent as ``Retry-After`` when set."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ErrorItem] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))
        super().__init__(self.detail)


class BadRequest(TestOpsError):
    status_code = 400
    code = "bad_request"
    title = "Bad request"


class NotFound(TestOpsError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(TestOpsError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(TestOpsError):
    status_code = 412
    code = "precondition_failed"
    title = "Precondition failed"


class InvalidRequest(TestOpsError):
    """A request that parsed but breaks a rule: 422 like a schema violation."""

    status_code = 422
    code = "validation_error"
    title = "Request validation failed"


class ServiceUnavailable(TestOpsError):
    status_code = 503
    code = "service_unavailable"
    title = "Service unavailable"
    retry_after = 1


class DatabaseBusy(ServiceUnavailable):
    code = "database_busy"
    title = "Database busy"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    title = "Database unavailable"


def field_error(loc: Sequence[str | int], message: str) -> ErrorItem:
    """Shorthand for one :class:`ErrorItem`."""
    return ErrorItem(loc=list(loc), message=message)


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[ErrorItem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Render one problem as a response."""
    body = Problem(
        type=f"urn:testops:problem:{code}",
        title=title,
        status=status,
        detail=detail,
        code=code,
        errors=list(errors) if errors else None,
    ).model_dump(mode="json", exclude_none=True)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=dict(headers or {})
    )


def _render_testops_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TestOpsError)
    return problem_response(
        status=exc.status_code,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


def _json_loc(loc: Sequence[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def _render_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [
        ErrorItem(loc=_json_loc(err.get("loc", ())), message=str(err.get("msg", "Invalid value")))
        for err in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in item.loc) for item in items[:5])
    return problem_response(
        status=422,
        code="validation_error",
        title="Request validation failed",
        detail=f"The request is not valid: {fields}." if fields else "The request is not valid.",
        errors=items,
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


def _render_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI and Starlette raise 400 for a body they cannot parse (multipart that is not):
        # malformed like JSON that is not, so answered as such a body is (JsonBodyLimits).
        message = exc.detail if isinstance(exc.detail, str) else "The body cannot be read."
        return problem_response(
            status=422,
            code="validation_error",
            title="Request validation failed",
            detail=f"The request body is not valid: {message}",
            errors=[ErrorItem(loc=["body"], message=message)],
        )
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route the path matched; RFC 9110 wants all.
        allowed = allowed_methods(request.scope)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(
        status=exc.status_code, code=code, title=title, detail=detail, headers=headers
    )


def is_sqlite_lock(exc: OperationalError) -> bool:
    """Whether ``exc`` is SQLite giving up on a lock after its busy timeout."""
    return "database is locked" in str(exc.orig) or "database table is locked" in str(exc.orig)


def _render_operational_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    error: ServiceUnavailable
    if is_sqlite_lock(exc):
        log.warning("database_busy")
        error = DatabaseBusy("The database is busy; try again shortly.")
    else:
        log.error("database_unavailable", error=type(exc.orig).__name__)
        error = DatabaseUnavailable("The database cannot be reached; try again shortly.")
    return _render_testops_error(_, error)


def _render_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:  # the connection dropped mid-request
        log.error("database_connection_lost", error=type(exc.orig).__name__)
        error = DatabaseUnavailable("The database connection was lost; try again shortly.")
        return _render_testops_error(request, error)
    return _render_unexpected(request, exc)


def _render_integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # Services translate the conflicts they expect; this keeps a missed one from being a 500.
    log.warning("integrity_conflict", error=str(getattr(exc, "orig", exc))[:500])
    return problem_response(
        status=409,
        code="conflict",
        title="Conflict",
        detail="The change conflicts with data that exists; reload and try again.",
    )


def _render_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette calls this from its outermost middleware, after the request-context middleware
    # has unbound the request id, and in a worker thread where no exception is "current": bind
    # the id again, hand the exception over explicitly, and echo the id like any response does.
    request_id: str | None = getattr(request.state, "request_id", None)
    context = {"request_id": request_id} if request_id else {}
    with structlog.contextvars.bound_contextvars(**context):
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    return problem_response(
        status=500,
        code="internal_error",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""
    app.add_exception_handler(TestOpsError, _render_testops_error)
    app.add_exception_handler(RequestValidationError, _render_validation_error)
    app.add_exception_handler(StarletteHTTPException, _render_http_error)
    app.add_exception_handler(OperationalError, _render_operational_error)
    app.add_exception_handler(IntegrityError, _render_integrity_error)
    app.add_exception_handler(DBAPIError, _render_dbapi_error)
    app.add_exception_handler(Exception, _render_unexpected)


_RESPONSE_DESCRIPTIONS = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed (stale If-Match)",
    413: "Payload too large",
    416: "Range not satisfiable",
    422: "Validation error",
    429: "Too many requests",
    503: "Service unavailable",
}

DATABASE_UNAVAILABLE_DESCRIPTION = (
    "Service unavailable: the database is busy (`database_busy`) or cannot be reached "
    "(`database_unavailable`); try again after `Retry-After` seconds"
)
"""The 503 of an operation that uses the database (every operation under /api/v1 does)."""

# Every 429 and 503 the services raise sets `retry_after` (QueueFull, ServiceUnavailable and
# its subclasses), so the header is part of those responses' contract.
_RETRY_AFTER_HEADERS = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def problem_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem+json bodies for ``statuses``.

    ``descriptions`` replaces the generic description of some statuses, e.g. to name the codes
    a 503 can carry. The `Problem` schema they reference is added to the document by the kit's
    app factory.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description = (descriptions or {}).get(status) or _RESPONSE_DESCRIPTIONS.get(status)
        response: dict[str, Any] = {
            "description": description or "Error",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status in (429, 503):
            response["headers"] = dict(_RETRY_AFTER_HEADERS)
        responses[status] = response
    return responses
