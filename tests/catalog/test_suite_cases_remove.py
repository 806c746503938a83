from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
SuiteWithCases = Callable[[int], Awaitable[tuple[dict[str, Any], list[dict[str, Any]]]]]


async def _member_ids(client: httpx.AsyncClient, suite_id: int) -> list[int]:
    response = await client.get(f"/api/v1/suites/{suite_id}/cases", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [item["test_case_id"] for item in response.json()["items"]]


async def test_remove_answers_204_and_the_case_leaves_the_suite(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (a, b, c) = await suite_with_cases(3)

    response = await client.delete(f"/api/v1/suites/{suite['id']}/cases/{b['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await _member_ids(client, suite["id"]) == [a["id"], c["id"]]
    assert_problem(
        await client.get(f"/api/v1/suites/{suite['id']}/cases/{b['id']}"),
        404,
        "suite_case_not_found",
    )
    assert (await client.get(f"/api/v1/suites/{suite['id']}")).json()["case_count"] == 2


async def test_remove_keeps_the_test_case_itself(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (case,) = await suite_with_cases(1)

    response = await client.delete(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert response.status_code == 204, response.text
    fetched = await client.get(f"/api/v1/test-cases/{case['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["suites"] == []


async def test_remove_twice_is_not_found_the_second_time(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (case,) = await suite_with_cases(1)
    assert (
        await client.delete(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")
    ).status_code == 204

    response = await client.delete(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert_problem(response, 404, "suite_case_not_found")


async def test_remove_then_add_again_appends_the_case_at_the_end(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (a, b) = await suite_with_cases(2)
    assert (await client.delete(f"/api/v1/suites/{suite['id']}/cases/{a['id']}")).status_code == 204

    response = await client.post(
        f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": a["id"]}
    )

    assert response.status_code == 201, response.text
    assert await _member_ids(client, suite["id"]) == [b["id"], a["id"]]


async def test_remove_a_case_that_is_not_in_the_suite_is_not_found(
    client: httpx.AsyncClient, create_case: Factory, suite_with_cases: SuiteWithCases
) -> None:
    suite, (member,) = await suite_with_cases(1)
    stranger = await create_case()

    response = await client.delete(f"/api/v1/suites/{suite['id']}/cases/{stranger['id']}")

    assert_problem(response, 404, "suite_case_not_found")
    assert await _member_ids(client, suite["id"]) == [member["id"]]


async def test_remove_from_a_suite_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    response = await client.delete(f"/api/v1/suites/2147483647/cases/{case['id']}")

    assert_problem(response, 404, "suite_not_found")


async def test_remove_from_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (case,) = await suite_with_cases(1)
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.delete(f"/api/v1/suites/{suite['id']}/cases/{case['id']}")

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize(("suite_id", "case_id"), [("1", "0"), ("1", str(2**31)), ("x", "1")])
async def test_remove_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str, case_id: str
) -> None:
    response = await client.delete(f"/api/v1/suites/{suite_id}/cases/{case_id}")

    assert_problem(response, 422, "validation_error")
