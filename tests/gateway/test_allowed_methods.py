"""Through the gateway a wrong method is 405 naming every method the path takes, as the service
answers it; the gateway's own routes answer so too, and HEAD goes wherever GET does."""

from __future__ import annotations

import httpx
import pytest
from tests.gateway.conftest import Upstreams, bearer

from testops_kit.testing import assert_problem


@pytest.fixture
def root(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["root"])


@pytest.mark.parametrize(
    ("service", "path", "allow"),
    [
        ("catalog", "/api/v1/test-cases/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("catalog", "/api/v1/suites/1/cases", "GET, HEAD, POST, PUT"),
        ("catalog", "/api/v1/suites/1/cases/1", "GET, HEAD, DELETE"),
        ("catalog", "/api/v1/test-cases/1/attachments", "GET, HEAD, POST"),
        ("catalog", "/api/v1/test-cases/1/attachments/1", "GET, HEAD, DELETE"),
        ("results", "/api/v1/runs/1", "GET, HEAD, DELETE"),
        ("results", "/api/v1/runs/1/report", "GET, HEAD, POST"),
        ("executor", "/api/v1/executions", "GET, HEAD, POST, DELETE"),
    ],
)
async def test_a_wrong_method_is_405_allowing_what_the_service_allows(
    gateway: httpx.AsyncClient,
    upstreams: Upstreams,
    root: dict[str, str],
    service: str,
    path: str,
    allow: str,
) -> None:
    through = await gateway.request("OPTIONS", path, headers=root)
    async with getattr(upstreams, service).client() as direct:
        expected = await direct.request("OPTIONS", path)

    assert_problem(through, 405, "method_not_allowed")
    assert through.headers["Allow"] == expected.headers["Allow"] == allow


@pytest.mark.parametrize(
    "path", ["/api/v1/openapi.json", "/api/v1/docs", "/healthz", "/readyz", "/metrics"]
)
async def test_a_wrong_method_on_a_gateway_route_is_405_allowing_get_and_head(
    gateway: httpx.AsyncClient, path: str
) -> None:
    response = await gateway.post(path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD"


async def test_head_on_a_gateway_route_answers_without_a_body(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.head("/healthz")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(b'{"status":"ok"}'))


async def test_head_through_the_gateway_answers_the_service_headers_without_a_body(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = bearer(tokens["reader"])
    got = await gateway.get("/api/v1/tags", headers=reader)
    head = await gateway.head("/api/v1/tags", headers=reader)

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(got.content))
