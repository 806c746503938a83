from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
SuiteMembers = Callable[[int], Awaitable[list[tuple[int, int]]]]
SuiteWithCases = Callable[[int], Awaitable[tuple[dict[str, Any], list[dict[str, Any]]]]]


async def _put(client: httpx.AsyncClient, suite_id: int, ids: list[Any]) -> httpx.Response:
    return await client.put(f"/api/v1/suites/{suite_id}/cases", json={"test_case_ids": ids})


async def test_put_sets_the_order_and_get_returns_it_at_positions_one_to_n(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    a, b, c = [await create_case() for _ in range(3)]

    response = await _put(client, suite["id"], [c["id"], a["id"], b["id"]])

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"suite_id": suite["id"], "test_case_id": case["id"], "position": p, "name": case["name"]}
        for case, p in ((c, 1), (a, 2), (b, 3))
    ]
    assert await suite_members(suite["id"]) == [(c["id"], 1), (a["id"], 2), (b["id"], 3)]


async def test_put_reorders_the_existing_members(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases, suite_members: SuiteMembers
) -> None:
    suite, (a, b, c) = await suite_with_cases(3)

    response = await _put(client, suite["id"], [b["id"], c["id"], a["id"]])

    assert response.status_code == 200, response.text
    assert await suite_members(suite["id"]) == [(b["id"], 1), (c["id"], 2), (a["id"], 3)]


async def test_put_unlinks_the_cases_it_does_not_list(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases, suite_members: SuiteMembers
) -> None:
    suite, (a, b, c) = await suite_with_cases(3)

    response = await _put(client, suite["id"], [c["id"], a["id"]])

    assert response.status_code == 200, response.text
    assert await suite_members(suite["id"]) == [(c["id"], 1), (a["id"], 2)]
    dropped = (await client.get(f"/api/v1/test-cases/{b['id']}")).json()
    assert suite["id"] not in [s["id"] for s in dropped["suites"]]
    assert_problem(
        await client.get(f"/api/v1/suites/{suite['id']}/cases/{b['id']}"),
        404,
        "suite_case_not_found",
    )
    assert (await client.get(f"/api/v1/suites/{suite['id']}")).json()["case_count"] == 2


async def test_put_with_an_empty_list_unlinks_every_case(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases, suite_members: SuiteMembers
) -> None:
    suite, _ = await suite_with_cases(2)

    response = await _put(client, suite["id"], [])

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert await suite_members(suite["id"]) == []


async def test_put_leaves_the_other_suites_of_a_case_alone(
    client: httpx.AsyncClient,
    create_suite: Factory,
    suite_with_cases: SuiteWithCases,
    suite_members: SuiteMembers,
) -> None:
    other, (case,) = await suite_with_cases(1)
    suite = await create_suite()

    first = await _put(client, suite["id"], [case["id"]])
    second = await _put(client, suite["id"], [])

    assert (first.status_code, second.status_code) == (200, 200)
    assert await suite_members(other["id"]) == [(case["id"], 1)]


async def test_put_with_a_case_listed_twice_is_rejected_at_its_index_and_changes_nothing(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases, suite_members: SuiteMembers
) -> None:
    suite, (a, b) = await suite_with_cases(2)
    before = await suite_members(suite["id"])

    response = await _put(client, suite["id"], [b["id"], a["id"], b["id"]])

    problem = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in problem["errors"]] == [["body", "test_case_ids", 2]]
    assert await suite_members(suite["id"]) == before


async def test_put_with_an_unknown_case_is_rejected_at_its_index_and_changes_nothing(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases, suite_members: SuiteMembers
) -> None:
    suite, (a, b) = await suite_with_cases(2)
    before = await suite_members(suite["id"])

    response = await _put(client, suite["id"], [b["id"], 2_147_483_647])

    problem = assert_problem(response, 422, "test_case_not_found")
    assert [e["loc"] for e in problem["errors"]] == [["body", "test_case_ids", 1]]
    assert await suite_members(suite["id"]) == before


async def test_put_with_a_deleted_case_is_rejected_at_its_index(
    client: httpx.AsyncClient,
    create_case: Factory,
    suite_with_cases: SuiteWithCases,
    suite_members: SuiteMembers,
) -> None:
    suite, (a,) = await suite_with_cases(1)
    deleted = await create_case()
    assert (await client.delete(f"/api/v1/test-cases/{deleted['id']}")).status_code == 204

    response = await _put(client, suite["id"], [deleted["id"], a["id"]])

    problem = assert_problem(response, 422, "test_case_not_found")
    assert [e["loc"] for e in problem["errors"]] == [["body", "test_case_ids", 0]]
    assert await suite_members(suite["id"]) == [(a["id"], 1)]


async def test_put_to_a_suite_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    response = await _put(client, 2_147_483_647, [case["id"]])

    assert_problem(response, 404, "suite_not_found")


async def test_put_to_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite, case = await create_suite(), await create_case()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await _put(client, suite["id"], [case["id"]])

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "test_case_ids"]),
        ({"test_case_ids": None}, ["body", "test_case_ids"]),
        ({"test_case_ids": "1,2"}, ["body", "test_case_ids"]),
        ({"test_case_ids": {"0": 1}}, ["body", "test_case_ids"]),
        ({"test_case_ids": ["x"]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [1.5]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [0]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [-4]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [2**31]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [2**64]}, ["body", "test_case_ids", 0]),
        ({"test_case_ids": [], "positions": []}, ["body", "positions"]),
    ],
)
async def test_put_with_an_invalid_body_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient,
    suite_with_cases: SuiteWithCases,
    suite_members: SuiteMembers,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    suite, _ = await suite_with_cases(1)
    before = await suite_members(suite["id"])

    response = await client.put(f"/api/v1/suites/{suite['id']}/cases", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert await suite_members(suite["id"]) == before


async def test_put_with_a_bare_list_instead_of_an_object_is_rejected(
    client: httpx.AsyncClient, suite_with_cases: SuiteWithCases
) -> None:
    suite, (case,) = await suite_with_cases(1)

    response = await client.put(f"/api/v1/suites/{suite['id']}/cases", json=[case["id"]])

    assert_problem(response, 422, "validation_error")


async def test_put_with_a_body_that_is_not_json_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.put(
        f"/api/v1/suites/{suite['id']}/cases",
        content=b"{test_case_ids: [1]}",
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
async def test_put_with_json_nested_past_the_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    suite_with_cases: SuiteWithCases,
    suite_members: SuiteMembers,
    depth: int,
) -> None:
    suite, cases = await suite_with_cases(2)
    before = await suite_members(suite["id"])
    body = with_nested({"test_case_ids": [cases[1]["id"], "NESTED"]}, depth)

    response = await send_quietly(client, "PUT", f"/api/v1/suites/{suite['id']}/cases", body)

    assert_too_deep(response)
    assert await suite_members(suite["id"]) == before
