"""A 405 names every method its path takes, however many routes and routers serve the path; HEAD
is answered wherever GET is, without the body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse

from testops_kit.testing import app_client, assert_problem

readers = APIRouter()
writers = APIRouter()


@readers.get("/gears/{gear_id}")
async def get_gear(gear_id: int) -> dict[str, int]:
    return {"id": gear_id}


@writers.put("/gears/{gear_id}")
async def replace_gear(gear_id: int) -> dict[str, int]:
    return {"id": gear_id}


@writers.delete("/gears/{gear_id}", status_code=204)
async def delete_gear(gear_id: int) -> None:
    return None


@writers.post("/gears")
async def create_gear() -> dict[str, int]:
    return {"id": 1}


@readers.get("/gears/{gear_id}/noise")
async def follow_noise(gear_id: int) -> StreamingResponse:
    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b"clank\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(forever(), media_type="text/plain")


@pytest.fixture
async def client(build_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(build_app(readers, writers)) as client:
        yield client


async def test_a_405_allows_the_methods_of_every_route_on_the_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.request("OPTIONS", "/api/v1/gears/7")

    body = assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD, PUT, DELETE"
    assert body["detail"] == "OPTIONS is not allowed on /api/v1/gears/7."


async def test_a_405_on_a_path_without_get_does_not_allow_head(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/gears")

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


async def test_head_on_a_path_without_get_is_405_naming_the_methods(
    client: httpx.AsyncClient,
) -> None:
    response = await client.head("/api/v1/gears")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.content == b""


async def test_head_answers_the_get_headers_without_the_body(client: httpx.AsyncClient) -> None:
    got = await client.get("/api/v1/gears/7")
    head = await client.head("/api/v1/gears/7")

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"] == str(len(got.content))
    assert head.headers["Content-Type"] == got.headers["Content-Type"]


async def test_head_carries_the_error_a_get_would_get(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v1/gears/not-a-number")

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.content == b""


async def test_head_on_an_endless_stream_ends_once_the_headers_are_sent(
    client: httpx.AsyncClient,
) -> None:
    async with asyncio.timeout(10):
        response = await client.head("/api/v1/gears/7/noise")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.content == b""
