"""A wrong method on a catalog path is 405 naming every method the path takes; HEAD answers
what GET would, without the body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

JSON = dict[str, Any]


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/test-cases/1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("/api/v1/suites/1/cases", "GET, HEAD, POST, PUT"),
        ("/api/v1/suites/1/cases/1", "GET, HEAD, DELETE"),
        ("/api/v1/test-cases/1/attachments", "GET, HEAD, POST"),
        ("/api/v1/test-cases/1/attachments/1", "GET, HEAD, DELETE"),
        ("/api/v1/test-cases/1/attachments/1/content", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_is_405_allowing_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, allow: str
) -> None:
    response = await client.request("OPTIONS", path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow


async def test_head_of_a_case_sends_its_headers_without_a_body(
    client: httpx.AsyncClient, create_case: Callable[..., Awaitable[JSON]]
) -> None:
    case = await create_case()

    got = await client.get(f"/api/v1/test-cases/{case['id']}")
    head = await client.head(f"/api/v1/test-cases/{case['id']}")

    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(got.content))
