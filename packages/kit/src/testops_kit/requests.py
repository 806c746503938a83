"""Pure-ASGI middleware that gives every request an id and one access-log event.

The id comes from the client's ``X-Request-ID`` when it is a sane token, or is generated. It is
echoed on the response, bound to every log event of the request, and kept in
``scope["state"]["request_id"]`` for code that calls other services.

A client that hangs up before its body has arrived is not a server error: the request ends
without an answer (there is no one to answer), is logged once as ``client_disconnected`` at
info, and its access-log event has the status 499 (:data:`CLIENT_CLOSED_REQUEST`), whatever the
app made of the missing body (Starlette's ``ClientDisconnect``, FastAPI's 400).
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from testops_kit.logging import get_logger

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz"})

CLIENT_CLOSED_REQUEST = 499
"""The status logged for a request whose client went away before its body had arrived (nginx's
"client closed request"); it is never sent."""

log = get_logger("testops.access")


def request_id_from(value: str | None) -> str:
    """The client's id when it is a safe token, else a new one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


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
        received = 0
        body_complete = False
        client_gone = False

        async def receive_watching() -> Message:
            nonlocal received, body_complete, client_gone
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not body_complete:
                client_gone = True
            return message

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
                await self.app(scope, receive_watching, send_with_id)
            except ClientDisconnect:
                client_gone = True
            finally:
                path = scope["path"]
                if client_gone:
                    status = CLIENT_CLOSED_REQUEST
                    log.info(
                        "client_disconnected",
                        method=scope["method"],
                        path=path,
                        received_bytes=received,
                        declared_bytes=_content_length(scope),
                    )
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
