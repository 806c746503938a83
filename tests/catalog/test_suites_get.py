from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def test_get_answers_the_suite_with_its_etag(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    parent = await create_suite()
    suite = await create_suite(parent_id=parent["id"], description="nested")

    response = await client.get(f"/api/v1/suites/{suite['id']}")

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert body == suite
    assert set(body) >= {
        "id",
        "name",
        "description",
        "parent_id",
        "created_at",
        "updated_at",
        "is_deleted",
        "case_count",
    }
    assert body["parent_id"] == parent["id"]


async def test_get_etag_follows_the_version_after_a_change(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    patched = await client.patch(f"/api/v1/suites/{suite['id']}", json={"description": "v2"})
    assert patched.status_code == 200, patched.text

    response = await client.get(f"/api/v1/suites/{suite['id']}")

    assert response.headers["etag"] == '"2"'
    assert response.json()["version"] == 2


async def test_get_counts_the_active_cases_linked_to_the_suite(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    active, deleted = await create_case(), await create_case()
    for case in (active, deleted):
        linked = await client.post(
            f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": case["id"]}
        )
        assert linked.status_code == 201, linked.text
    assert (await client.delete(f"/api/v1/test-cases/{deleted['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}")

    assert response.json()["case_count"] == 1


async def test_get_a_suite_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/suites/2147483647")

    assert_problem(response, 404, "suite_not_found")


async def test_get_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}")

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize("suite_id", ["0", "-1", "abc", "1.5", str(2**31), str(2**64)])
async def test_get_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str
) -> None:
    response = await client.get(f"/api/v1/suites/{suite_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "suite_id"]
