"""Pure-ASGI middleware that gives every request an id and one access-log event.

The id comes from the client's ``X-Request-ID`` when it is a sane token, or is generated. It is
echoed on the response, bound to every log event of the request, and kept in
``scope["state"]["request_id"]`` for code that calls other services.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from testops_kit.logging import get_logger

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz"})

log = get_logger("testops.access")


def request_id_from(value: str | None) -> str:
    """The client's id when it is a safe token, else a new one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Assign the request id, bind it to logs, echo it, and log the request when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode())
        request_id = request_id_from(raw.decode("latin-1") if raw else None)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        # A request's context starts empty, and what the app binds (entity ids) stays with it:
        # the caller's context is put back afterwards (an in-process client shares its task).
        outer = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope["path"]
                if path not in _QUIET_PATHS or status >= 400:
                    log.info(
                        "request",
                        method=scope["method"],
                        path=path,
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    )
                structlog.contextvars.clear_contextvars()
                structlog.contextvars.bind_contextvars(**outer)
