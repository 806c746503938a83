from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
SuiteWithCases = Callable[[int], Awaitable[tuple[dict[str, Any], list[dict[str, Any]]]]]


async def test_list_answers_the_linked_cases_ordered_by_position(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    first, second, third = [await create_case() for _ in range(3)]
    for case, position in ((first, None), (second, None), (third, 1)):
        body: dict[str, Any] = {"test_case_id": case["id"]}
        if position is not None:
            body["position"] = position
        added = await client.post(f"/api/v1/suites/{suite['id']}/cases", json=body)
        assert added.status_code == 201, added.text

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    assert page["items"] == [
        {"suite_id": suite["id"], "test_case_id": c["id"], "position": p, "name": c["name"]}
        for c, p in ((third, 1), (first, 2), (second, 3))
    ]


async def test_list_of_a_suite_without_cases_is_empty(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_list_paginates_by_position_with_a_cursor(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, cases = await suite_with_cases(5)

    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(f"/api/v1/suites/{suite['id']}/cases", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([item["position"] for item in page["items"]])
        assert [item["test_case_id"] for item in page["items"]] == [
            cases[p - 1]["id"] for p in pages[-1]
        ]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [[1, 2], [3, 4], [5]]


async def test_list_leaves_out_soft_deleted_cases(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, cases = await suite_with_cases(3)
    assert (await client.delete(f"/api/v1/test-cases/{cases[1]['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert [item["test_case_id"] for item in response.json()["items"]] == [
        cases[0]["id"],
        cases[2]["id"],
    ]


async def test_list_shows_a_restored_case_again(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, cases = await suite_with_cases(2)
    assert (await client.delete(f"/api/v1/test-cases/{cases[0]['id']}")).status_code == 204
    restored = await client.post(f"/api/v1/test-cases/{cases[0]['id']}/restore")
    assert restored.status_code == 200, restored.text

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert [item["test_case_id"] for item in response.json()["items"]] == [c["id"] for c in cases]


async def test_list_shows_the_current_name_of_a_renamed_case(
    client: httpx.AsyncClient, unique: Callable[[str], str], suite_with_cases: SuiteWithCases
) -> None:
    suite, (case,) = await suite_with_cases(1)
    new_name = unique("renamed case")
    patched = await client.patch(f"/api/v1/test-cases/{case['id']}", json={"name": new_name})
    assert patched.status_code == 200, patched.text

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert [item["name"] for item in response.json()["items"]] == [new_name]


async def test_list_of_a_suite_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/suites/2147483647/cases")

    assert_problem(response, 404, "suite_not_found")


async def test_list_of_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases")

    assert_problem(response, 404, "suite_not_found")


async def test_list_with_a_cursor_of_the_suite_listing_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("cursor")
    for i in range(2):
        await create_suite(name=f"{token} {i}")
    suites = await client.get("/api/v1/suites", params={"q": token, "limit": 1})
    cursor = suites.json()["next_cursor"]
    assert cursor
    target = suites.json()["items"][0]["id"]

    response = await client.get(f"/api/v1/suites/{target}/cases", params={"cursor": cursor})

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "garbage!"}, "invalid_cursor"),
        ({"limit": 0}, "validation_error"),
        ({"limit": 501}, "validation_error"),
        ({"limit": "many"}, "validation_error"),
    ],
)
async def test_list_with_a_bad_query_parameter_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, params: dict[str, Any], code: str
) -> None:
    suite = await create_suite()

    response = await client.get(f"/api/v1/suites/{suite['id']}/cases", params=params)

    problem = assert_problem(response, 422, code)
    assert problem["errors"][0]["loc"] == ["query", next(iter(params))]


@pytest.mark.parametrize("suite_id", ["0", "abc", str(2**31)])
async def test_list_with_a_suite_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str
) -> None:
    response = await client.get(f"/api/v1/suites/{suite_id}/cases")

    assert_problem(response, 422, "validation_error")
