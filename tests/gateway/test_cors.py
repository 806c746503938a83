"""A browser app on a configured origin may call the gateway: preflights are answered without
a token, and the headers it needs to read are exposed; other origins get nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.gateway.conftest import StartGateway, bearer

from testops_kit.testing import assert_problem

API = "/api/v1"
SPA = "https://spa.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.fixture
async def cors_gateway(start_gateway: StartGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with start_gateway(cors_origins=[SPA]) as client:
        yield client


def listed(value: str) -> set[str]:
    """The lower-cased names of a comma-separated header value."""
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(
    cors_gateway: httpx.AsyncClient,
) -> None:
    response = await cors_gateway.options(f"{API}/test-cases", headers={"Origin": SPA, **PREFLIGHT})

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SPA
    assert {"authorization", "content-type"} <= listed(
        response.headers["access-control-allow-headers"]
    )
    assert "post" in listed(response.headers["access-control-allow-methods"])


async def test_a_preflight_from_another_origin_is_not_allowed(
    cors_gateway: httpx.AsyncClient,
) -> None:
    response = await cors_gateway.options(
        f"{API}/test-cases", headers={"Origin": "https://evil.example", **PREFLIGHT}
    )

    assert "access-control-allow-origin" not in response.headers
    assert response.status_code != 200


async def test_a_response_to_an_allowed_origin_exposes_etag_location_and_request_id(
    cors_gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await cors_gateway.get(
        f"{API}/test-cases", headers={"Origin": SPA, **bearer(tokens["reader"])}
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == SPA
    assert {"etag", "location", "x-request-id"} <= listed(
        response.headers["access-control-expose-headers"]
    )


async def test_a_401_to_an_allowed_origin_can_be_read_by_the_browser_app(
    cors_gateway: httpx.AsyncClient,
) -> None:
    response = await cors_gateway.get(f"{API}/test-cases", headers={"Origin": SPA})

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["access-control-allow-origin"] == SPA


async def test_a_response_to_another_origin_has_no_allow_origin(
    cors_gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await cors_gateway.get(
        f"{API}/test-cases",
        headers={"Origin": "https://evil.example", **bearer(tokens["reader"])},
    )

    assert response.status_code == 200, response.text
    assert "access-control-allow-origin" not in response.headers


async def test_without_cors_origins_no_cors_header_is_sent(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    preflight = await gateway.options(f"{API}/test-cases", headers={"Origin": SPA, **PREFLIGHT})
    simple = await gateway.get(
        f"{API}/test-cases", headers={"Origin": SPA, **bearer(tokens["reader"])}
    )

    # No CORS layer: the preflight is an ordinary OPTIONS, which needs a token like the rest.
    assert_problem(preflight, 401, "unauthenticated")
    assert simple.status_code == 200, simple.text
    assert cors_headers(preflight) == {}
    assert cors_headers(simple) == {}
