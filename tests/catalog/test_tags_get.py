from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def test_get_answers_the_tag(client: httpx.AsyncClient, create_tag: Factory) -> None:
    tag = await create_tag()

    response = await client.get(f"/api/v1/tags/{tag['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == {"id": tag["id"], "name": tag["name"], "case_count": 0}


async def test_get_counts_only_active_cases_carrying_the_tag(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    name = unique("counted")
    kept = await create_case(tags=[name])
    await create_case(tags=[{"name": name}])
    gone = await create_case(tags=[name])
    assert (await client.delete(f"/api/v1/test-cases/{gone['id']}")).status_code == 204

    response = await client.get(f"/api/v1/tags/{kept['tags'][0]['id']}")

    assert response.json()["case_count"] == 2


async def test_get_a_tag_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tags/2147483647")

    assert_problem(response, 404, "tag_not_found")


@pytest.mark.parametrize("tag_id", ["0", "-5", "smoke", "2.5", str(2**31), str(2**64)])
async def test_get_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, tag_id: str
) -> None:
    response = await client.get(f"/api/v1/tags/{tag_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "tag_id"]
