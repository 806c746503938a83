"""A wrong method on a results path is 405 naming every method the path takes."""

from __future__ import annotations

import httpx
import pytest

from testops_kit.testing import assert_problem


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/runs", "GET, HEAD, POST"),
        ("/api/v1/runs/1", "GET, HEAD, DELETE"),
        ("/api/v1/runs/1/report", "GET, HEAD, POST"),
        ("/api/v1/runs/1/report/index.html", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_is_405_allowing_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allow: str
) -> None:
    response = await client.request("OPTIONS", path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow


async def test_head_of_a_run_sends_its_headers_without_a_body(
    client: httpx.AsyncClient, uploaded_run: dict[str, object]
) -> None:
    got = await client.get(f"/api/v1/runs/{uploaded_run['id']}")
    head = await client.head(f"/api/v1/runs/{uploaded_run['id']}")

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(got.content))
