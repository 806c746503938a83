"""A JSON request body too large, malformed or nested too deep is refused before any route reads
it, cheaply and without a traceback; every other body reaches the route as it was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, Body, FastAPI
from starlette.types import Message, Receive, Scope, Send
from structlog.testing import capture_logs

from testops_kit.json_bodies import (
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
    JsonBodyLimits,
    is_json_media_type,
    json_depth,
)
from testops_kit.testing import app_client, assert_problem

router = APIRouter()
READ: list[Any] = []
"""What the route was given, request by request."""


@router.post("/echo")
async def echo(body: Annotated[Any, Body()]) -> Any:
    READ.append(body)
    return body


@pytest.fixture
async def client(build_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    READ.clear()
    async with app_client(build_app(router)) as client:
        yield client


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured:
        yield captured


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def assert_no_trace(events: list[dict[str, Any]]) -> None:
    noisy = [
        event
        for event in events
        if "exc_info" in event
        or "exception" in event
        or event["log_level"] in ("error", "critical")
    ]
    assert noisy == []


async def post_json(client: httpx.AsyncClient, content: Any, **headers: str) -> httpx.Response:
    return await client.post(
        "/api/v1/echo", content=content, headers={"content-type": "application/json", **headers}
    )


async def test_a_json_body_within_the_limits_reaches_the_route_as_sent(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"name": "Login [works]", "steps": [{"action": "{open}"}], "n": 1.5}'

    response = await post_json(client, body)

    assert response.status_code == 200, response.text
    assert READ == [{"name": "Login [works]", "steps": [{"action": "{open}"}], "n": 1.5}]


async def test_a_body_nested_as_deep_as_the_limit_is_taken(client: httpx.AsyncClient) -> None:
    response = await post_json(client, nested(MAX_JSON_DEPTH))

    assert response.status_code == 200, response.text
    assert json_depth(response.content) == MAX_JSON_DEPTH


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 1000, 10_000, 1_000_000])
async def test_a_body_nested_past_the_limit_is_422_body_too_deep_without_a_trace(
    client: httpx.AsyncClient, events: list[dict[str, Any]], depth: int
) -> None:
    response = await post_json(client, b'{"steps": [{"attachments": ' + nested(depth) + b"}]}")

    body = assert_problem(response, 422, "body_too_deep")
    assert body["errors"] == [
        {"loc": ["body"], "message": f"nests deeper than {MAX_JSON_DEPTH} levels"}
    ]
    assert READ == []
    assert_no_trace(events)


async def test_brackets_inside_strings_do_not_count_as_nesting(client: httpx.AsyncClient) -> None:
    text = '[{"' * 1000 + '\\" ]]]'

    response = await client.post("/api/v1/echo", json={"action": text})

    assert response.status_code == 200, response.text
    assert [{"action": text}] == READ


async def test_a_body_over_the_size_limit_is_413_payload_too_large(
    client: httpx.AsyncClient, events: list[dict[str, Any]]
) -> None:
    content = b'{"a": "' + b"x" * MAX_JSON_BODY_BYTES + b'"}'

    response = await post_json(client, content)

    assert_problem(response, 413, "payload_too_large")
    assert READ == []
    assert_no_trace(events)


async def test_a_streamed_body_over_the_size_limit_is_413_before_the_rest_is_read(
    client: httpx.AsyncClient,
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(100):  # 100 MiB if it were all read
            sent.append(1)
            yield b"x" * 1024 * 1024
        yield b'"}'

    response = await post_json(client, chunks())

    assert_problem(response, 413, "payload_too_large")
    assert "content-length" not in response.request.headers
    assert READ == []
    assert len(sent) < 100


async def test_a_declared_length_over_the_limit_is_413_without_reading_the_body(
    client: httpx.AsyncClient,
) -> None:
    read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        read.append(1)
        yield b"{}"

    response = await post_json(client, chunks(), **{"content-length": str(10 * 1024 * 1024)})

    assert_problem(response, 413, "payload_too_large")
    assert read == []
    assert READ == []


@pytest.mark.parametrize(
    ("content", "loc"),
    [
        pytest.param(b'{"name": "caf\xe9"}', ["body"], id="latin-1"),
        pytest.param(b"\xff\xfe{\x00}\x00", ["body"], id="utf-16"),
        pytest.param(b'{"name": "x",}', ["body", 12], id="trailing-comma"),
        pytest.param(b"{not json", ["body", 1], id="not-json"),
        pytest.param(b'{"size": NaN}', ["body", 9], id="nan"),
        pytest.param(b'{"name": "\\ud800"}', ["body", 10], id="lone-surrogate"),
        pytest.param(b"\xef\xbb\xbf{}", ["body"], id="byte-order-mark"),
        pytest.param(b"   ", ["body"], id="only-spaces"),
    ],
)
async def test_a_body_that_is_not_utf_8_json_is_422_validation_error_at_body(
    client: httpx.AsyncClient, events: list[dict[str, Any]], content: bytes, loc: list[Any]
) -> None:
    response = await post_json(client, content)

    body = assert_problem(response, 422, "validation_error")
    [error] = body["errors"]
    assert error["loc"][: len(loc)] == loc
    assert READ == []
    assert_no_trace(events)


async def test_an_empty_json_body_is_left_to_the_route(client: httpx.AsyncClient) -> None:
    response = await post_json(client, b"")

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body"]


async def test_a_body_of_another_type_is_left_to_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/echo", content=nested(10_000), headers={"content-type": "text/plain"}
    )

    assert response.status_code == 200, response.text
    assert [nested(10_000)] == READ  # bytes, never parsed as JSON


async def test_a_client_that_leaves_before_its_body_is_complete_is_left_to_the_app() -> None:
    seen: list[Message] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.extend([await receive(), await receive()])

    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"name": "Log', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return arriving.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}
    await JsonBodyLimits(app)(scope, receive, send)

    assert seen == [
        {"type": "http.request", "body": b'{"name": "Log', "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert sent == []


async def test_a_client_leaving_mid_json_body_is_a_499_logged_once_at_info(
    build_app: Callable[..., FastAPI],
) -> None:
    READ.clear()
    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"name": "Log', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/echo",
        "raw_path": b"/api/v1/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await build_app(router)(scope, receive, send)

    assert [(e["event"], e["log_level"]) for e in events] == [
        ("client_disconnected", "info"),
        ("request", "info"),
    ]
    assert events[1]["status"] == 499
    assert READ == []


def test_every_operation_that_takes_a_json_body_declares_the_413(
    build_app: Callable[..., FastAPI],
) -> None:
    document = build_app(router).openapi()

    responses = document["paths"]["/api/v1/projects/{project_key}/echo"]["post"]["responses"]
    content = responses["413"]["content"]["application/problem+json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "payload_too_large" in responses["413"]["description"]
    assert list(responses) == sorted(responses)
    assert "413" not in document["paths"]["/healthz"]["get"]["responses"]


@pytest.mark.parametrize(
    ("content_type", "is_json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("application/jsonl", False),
        ("text/json", False),
        ("multipart/form-data; boundary=x", False),
    ],
)
def test_json_media_types_are_told_as_fastapi_tells_them(content_type: str, is_json: bool) -> None:
    assert is_json_media_type(content_type) is is_json


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        (b"1", 0),
        (b'"[[["', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": "]]]"}], "c": {}}', 3),
        (b'["\\\\", ["\\"]"]]', 2),
    ],
)
def test_the_depth_of_a_document_counts_arrays_and_objects_not_strings(
    document: bytes, depth: int
) -> None:
    assert json_depth(document) == depth
