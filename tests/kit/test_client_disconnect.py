"""A client that goes away before its body has arrived: logged once, at info, never a 500.

The app is called as the server calls it: the first half of a body its ``Content-Length``
promised in full, then ``http.disconnect``. Whatever reads the body (Starlette's ``form()`` or
``stream()``, FastAPI's ``UploadFile``) the request ends with one ``client_disconnected`` event
and an access event of status 499, and no exception leaves the app. The services' own tests do
the same against real processes over a socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import pytest
import structlog
from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from starlette.types import Message
from structlog.testing import capture_logs

router = APIRouter()
DECLARED = 1000
SENT = b"-" * (DECLARED // 2)


@router.post("/form")
async def read_a_form(request: Request) -> dict[str, int]:
    async with request.form() as form:
        return {"fields": len(form)}


@router.post("/upload")
async def take_an_upload(file: Annotated[UploadFile, File()]) -> dict[str, int]:
    return {"size": file.size or 0}


@router.post("/stream")
async def read_a_stream(request: Request) -> dict[str, int | bool]:
    size = sum([len(chunk) async for chunk in request.stream()])
    return {"size": size, "gone": await request.is_disconnected()}


@pytest.fixture
def app(build_app: Callable[..., FastAPI]) -> FastAPI:
    return build_app(router)


def scope(path: str, *, content_type: str, length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(length).encode()),
            (b"x-request-id", b"gone-early"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call(app: FastAPI, path: str, messages: list[Message]) -> list[Message]:
    """Call ``app`` with ``messages`` as what the client sends, then a disconnect; what the
    app sent back."""
    incoming = iter(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return next(incoming, {"type": "http.disconnect"})

    async def send(message: Message) -> None:
        sent.append(message)

    content_type = "multipart/form-data; boundary=b" if path != "/api/v1/stream" else "text/plain"
    await app(scope(path, content_type=content_type, length=DECLARED), receive, send)
    return sent


@pytest.mark.parametrize("path", ["/api/v1/form", "/api/v1/upload", "/api/v1/stream"])
async def test_a_body_cut_short_by_the_client_is_a_499_logged_once_at_info(
    app: FastAPI, path: str
) -> None:
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    half = [{"type": "http.request", "body": part + SENT, "more_body": True}]

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await call(app, path, half)

    assert [(e["event"], e["log_level"]) for e in events] == [
        ("client_disconnected", "info"),
        ("request", "info"),
    ]
    gone, access = events
    assert (gone["method"], gone["path"], gone["request_id"]) == ("POST", path, "gone-early")
    assert (gone["received_bytes"], gone["declared_bytes"]) == (len(part + SENT), DECLARED)
    assert access["status"] == 499


async def test_a_client_leaving_after_its_whole_body_is_not_a_disconnect(app: FastAPI) -> None:
    whole = [{"type": "http.request", "body": b"x" * DECLARED, "more_body": False}]

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        sent = await call(app, "/api/v1/stream", whole)

    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"size": DECLARED, "gone": True}
    assert [(e["event"], e.get("status")) for e in events] == [("request", 200)]
