from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
LinkCase = Callable[[int, int], Awaitable[None]]


async def test_get_answers_the_case_place_in_the_suite(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite = await create_suite()
    first, second = await create_case(), await create_case()
    await link_case(suite["id"], first["id"])
    await link_case(suite["id"], second["id"])

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/{second['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "suite_id": suite["id"],
        "test_case_id": second["id"],
        "position": 2,
        "name": second["name"],
    }


async def test_get_follows_the_position_after_an_insert_before_it(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite = await create_suite()
    case, newcomer = await create_case(), await create_case()
    await link_case(suite["id"], case["id"])
    inserted = await client.post(
        f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": newcomer["id"], "position": 1}
    )
    assert inserted.status_code == 201, inserted.text

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert response.json()["position"] == 2


async def test_get_a_case_that_is_not_in_the_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite, elsewhere = await create_suite(), await create_suite()
    case = await create_case()
    await link_case(elsewhere["id"], case["id"])

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert_problem(response, 404, "suite_case_not_found")


async def test_get_a_case_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/2147483647")

    assert_problem(response, 404, "suite_case_not_found")


async def test_get_a_soft_deleted_member_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite, case = await create_suite(), await create_case()
    await link_case(suite["id"], case["id"])
    assert (await client.delete(f"/api/v1/test-cases/{case['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert_problem(response, 404, "suite_case_not_found")


async def test_get_in_a_suite_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    response = await client.get(f"/api/v1/suites/2147483647/cases/{case['id']}")

    assert_problem(response, 404, "suite_not_found")


async def test_get_in_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite, case = await create_suite(), await create_case()
    await link_case(suite["id"], case["id"])
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize(
    ("suite_id", "case_id", "loc"),
    [
        ("1", "0", ["path", "test_case_id"]),
        ("1", "abc", ["path", "test_case_id"]),
        ("1", str(2**31), ["path", "test_case_id"]),
        ("1", str(2**64), ["path", "test_case_id"]),
        ("0", "1", ["path", "suite_id"]),
        (str(2**31), "1", ["path", "suite_id"]),
    ],
)
async def test_get_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str, case_id: str, loc: list[str]
) -> None:
    response = await client.get(f"/api/v1/suites/{suite_id}/cases/{case_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
