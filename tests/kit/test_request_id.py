"""The request-id middleware: every request has an id, echoed and bound to its log events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI
from structlog.testing import capture_logs

from testops_kit.logging import get_logger
from testops_kit.testing import app_client, assert_problem

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")

router = APIRouter()
log = get_logger("tests.kit.request_id")


@router.get("/echo")
async def log_something() -> dict[str, str]:
    log.info("inside_endpoint")
    return {"ok": "yes"}


@router.get("/things/{thing_id}/parts/{part_id}")
async def log_about_a_part(thing_id: int, part_id: int) -> dict[str, int]:
    log.info("part_read")
    return {"thing_id": thing_id, "part_id": part_id}


@router.get("/boom")
async def fail_unexpectedly() -> None:
    raise RuntimeError("an internal detail")


@pytest.fixture
def app(build_app: Callable[..., FastAPI]) -> FastAPI:
    return build_app(router)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


async def test_a_client_request_id_is_accepted_and_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/echo", headers={"X-Request-ID": "ci-build.42:step-7"})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "ci-build.42:step-7"


async def test_a_request_without_an_id_gets_a_generated_one(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/echo")
    second = await client.get("/api/v1/echo")

    assert GENERATED_ID.match(first.headers["X-Request-ID"])
    assert GENERATED_ID.match(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "unsafe",
    [
        "has spaces in it",
        'quote"and<angle>',
        "semi;colon",
        "ünïcode",
        "",
        "x" * 129,
    ],
    ids=["spaces", "markup", "semicolon", "non-ascii", "empty", "too-long"],
)
async def test_an_unsafe_or_too_long_request_id_is_replaced_by_a_generated_one(
    client: httpx.AsyncClient, unsafe: str
) -> None:
    response = await client.get("/api/v1/echo", headers={"X-Request-ID": unsafe.encode("utf-8")})

    assert response.status_code == 200
    assert GENERATED_ID.match(response.headers["X-Request-ID"])


async def test_a_request_id_of_the_maximum_length_is_kept(client: httpx.AsyncClient) -> None:
    longest = "a" * 128

    response = await client.get("/api/v1/echo", headers={"X-Request-ID": longest})

    assert response.headers["X-Request-ID"] == longest


async def test_the_request_id_is_bound_into_every_log_event_of_that_request(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await client.get("/api/v1/echo", headers={"X-Request-ID": "req-one"})
        await client.get("/api/v1/echo", headers={"X-Request-ID": "req-two"})

    by_id = {
        (event["event"], event.get("request_id"))
        for event in events
        if event["event"] in {"inside_endpoint", "request"}
    }
    assert by_id == {
        ("inside_endpoint", "req-one"),
        ("request", "req-one"),
        ("inside_endpoint", "req-two"),
        ("request", "req-two"),
    }


async def test_the_request_id_is_not_bound_after_the_request_ends(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await client.get("/api/v1/echo", headers={"X-Request-ID": "req-done"})
        log.info("after_the_request")

    after = [event for event in events if event["event"] == "after_the_request"]
    assert after == [{"event": "after_the_request", "log_level": "info"}]


async def test_the_access_log_event_names_method_path_and_status(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await client.get("/api/v1/nowhere", headers={"X-Request-ID": "req-404"})

    (access,) = [event for event in events if event["event"] == "request"]
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/nowhere"
    assert access["status"] == 404
    assert access["request_id"] == "req-404"
    assert access["duration_ms"] >= 0


async def test_an_unexpected_error_response_still_echoes_the_request_id(
    app: FastAPI,
    lenient_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]],
) -> None:
    async with lenient_client(app) as client:
        response = await client.get("/api/v1/boom", headers={"X-Request-ID": "req-boom"})

    assert_problem(response, 500, "internal_error")
    assert response.headers["X-Request-ID"] == "req-boom"


async def test_an_unexpected_error_is_logged_with_the_request_id_and_its_traceback(
    app: FastAPI,
    lenient_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]],
) -> None:
    processors = [structlog.contextvars.merge_contextvars, structlog.processors.format_exc_info]
    async with lenient_client(app) as client:
        with capture_logs(processors=processors) as events:
            await client.get("/api/v1/boom", headers={"X-Request-ID": "req-trace"})

    (error,) = [event for event in events if event["event"] == "unhandled_error"]
    assert error["request_id"] == "req-trace"
    assert error["error_type"] == "RuntimeError"
    assert "RuntimeError: an internal detail" in error["exception"]
    assert "fail_unexpectedly" in error["exception"]


async def test_ids_named_in_the_path_are_bound_to_the_request_log_events(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.get("/api/v1/things/7/parts/12")
        await client.get("/api/v1/echo")

    assert response.status_code == 200
    part_read = next(e for e in events if e["event"] == "part_read")
    assert (part_read["thing_id"], part_read["part_id"]) == (7, 12)
    access = [e for e in events if e["event"] == "request"]
    assert (access[0]["thing_id"], access[0]["part_id"]) == (7, 12)
    assert "thing_id" not in access[1], "ids of one request must not leak into the next"


@pytest.mark.parametrize("thing_id", ["²", "٣"])
async def test_a_path_id_of_non_ascii_digits_is_a_validation_error_not_a_crash(
    client: httpx.AsyncClient, thing_id: str
) -> None:
    response = await client.get(f"/api/v1/things/{thing_id}/parts/1")

    assert_problem(response, 422, "validation_error")
