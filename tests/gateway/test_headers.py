"""What crosses the gateway: hop-by-hop headers stay on their hop, the caller's credentials
stay at the gateway, X-Forwarded-* tell the service who called, and no cookie is kept.

The service here is a stand-in HTTP server that answers with the headers it received: the
real services do not show their request headers, and these are properties of the hop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from tests.gateway.conftest import StartGateway, bearer

from testops_kit.testing import free_port, wait_for


async def echo_headers(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request's headers as JSON, plus some a proxy must not pass back."""
    if scope["type"] != "http":
        return
    body = json.dumps(
        [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"x-hop-only"),
                (b"x-hop-only", b"1"),
                (b"keep-alive", b"timeout=5"),
                (b"set-cookie", b"session=abc; Path=/"),
                (b"x-end-to-end", b"kept"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(echo_headers, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        return True if server.started else None

    await wait_for(started, within=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def received(response_json: list[list[str]]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in response_json:
        headers.setdefault(name, []).append(value)
    return headers


async def test_credentials_and_hop_by_hop_headers_are_not_passed_on(
    start_gateway: StartGateway, tokens: dict[str, str], echo_url: str
) -> None:
    async with start_gateway(catalog_url=echo_url) as gateway:
        response = await gateway.get(
            "/api/v1/tags/echo",
            headers={
                **bearer(tokens["root"]),
                "Connection": "x-private",
                "X-Private": "secret-hop",
                "TE": "trailers",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "Cookie": "theirs=1",
                "X-End-To-End": "passed",
            },
        )

    assert response.status_code == 200, response.text
    seen = received(response.json())
    for name in ("authorization", "proxy-authorization", "x-private", "te", "cookie"):
        assert name not in seen, (name, seen)
    assert seen["x-end-to-end"] == ["passed"]
    assert seen["host"] == [echo_url.removeprefix("http://")]


async def test_the_service_learns_who_called_through_x_forwarded_headers(
    start_gateway: StartGateway, tokens: dict[str, str], echo_url: str
) -> None:
    async with start_gateway(catalog_url=echo_url) as gateway:
        response = await gateway.get(
            "/api/v1/tags/echo",
            headers={**bearer(tokens["root"]), "X-Forwarded-For": "203.0.113.7"},
        )
        own = await gateway.get("/api/v1/tags/echo", headers=bearer(tokens["root"]))

    seen = received(response.json())
    # The in-process client's address is 127.0.0.1: appended to what the caller said.
    assert seen["x-forwarded-for"] == ["203.0.113.7, 127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == ["testserver"]
    assert seen["x-request-id"] == [response.headers["x-request-id"]]
    assert received(own.json())["x-forwarded-for"] == ["127.0.0.1"]


async def test_hop_by_hop_and_cookie_headers_of_the_answer_stay_at_the_gateway(
    start_gateway: StartGateway, tokens: dict[str, str], echo_url: str
) -> None:
    async with start_gateway(catalog_url=echo_url) as gateway:
        first = await gateway.get("/api/v1/tags/echo", headers=bearer(tokens["root"]))
        second = await gateway.get("/api/v1/tags/echo", headers=bearer(tokens["root"]))

    for name in ("x-hop-only", "keep-alive", "set-cookie"):
        assert name not in first.headers, (name, first.headers)
    assert first.headers["x-end-to-end"] == "kept"
    # The gateway's client kept no cookie from the first answer to send with the second.
    assert "cookie" not in received(second.json())
