from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
SuiteMembers = Callable[[int], Awaitable[list[tuple[int, int]]]]


async def _add(
    client: httpx.AsyncClient, suite_id: int, case_id: int, position: int | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"test_case_id": case_id}
    if position is not None:
        body["position"] = position
    return await client.post(f"/api/v1/suites/{suite_id}/cases", json=body)


async def test_add_answers_201_with_location_and_the_link(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite, case = await create_suite(), await create_case()

    response = await _add(client, suite["id"], case["id"])

    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/suites/{suite['id']}/cases/{case['id']}"
    link = response.json()
    assert link == {
        "suite_id": suite["id"],
        "test_case_id": case["id"],
        "position": 1,
        "name": case["name"],
    }
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == link


async def test_add_without_a_position_appends_at_the_end(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    cases = [await create_case() for _ in range(3)]

    positions = [(await _add(client, suite["id"], c["id"])).json()["position"] for c in cases]

    assert positions == [1, 2, 3]
    assert await suite_members(suite["id"]) == [(c["id"], i) for i, c in enumerate(cases, 1)]


async def test_add_at_a_taken_position_inserts_there_and_moves_later_members_down(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    a, b, c, new = [await create_case() for _ in range(4)]
    for case in (a, b, c):
        assert (await _add(client, suite["id"], case["id"])).status_code == 201

    response = await _add(client, suite["id"], new["id"], position=2)

    assert response.status_code == 201, response.text
    assert response.json()["position"] == 2
    assert await suite_members(suite["id"]) == [
        (a["id"], 1),
        (new["id"], 2),
        (b["id"], 3),
        (c["id"], 4),
    ]


async def test_add_at_position_one_puts_the_case_first(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    a, b, first = [await create_case() for _ in range(3)]
    for case in (a, b):
        assert (await _add(client, suite["id"], case["id"])).status_code == 201

    response = await _add(client, suite["id"], first["id"], position=1)

    assert response.status_code == 201, response.text
    assert await suite_members(suite["id"]) == [(first["id"], 1), (a["id"], 2), (b["id"], 3)]


async def test_add_at_the_position_after_the_last_member_appends(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    a, b, last = [await create_case() for _ in range(3)]
    for case in (a, b):
        assert (await _add(client, suite["id"], case["id"])).status_code == 201

    response = await _add(client, suite["id"], last["id"], position=3)

    assert response.status_code == 201, response.text
    assert await suite_members(suite["id"]) == [(a["id"], 1), (b["id"], 2), (last["id"], 3)]


async def test_add_shows_the_suite_on_the_case_and_in_its_case_count(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite, case = await create_suite(), await create_case()

    response = await _add(client, suite["id"], case["id"])

    assert response.status_code == 201, response.text
    fetched_case = (await client.get(f"/api/v1/test-cases/{case['id']}")).json()
    assert fetched_case["suites"] == [{"id": suite["id"], "name": suite["name"], "position": 1}]
    assert (await client.get(f"/api/v1/suites/{suite['id']}")).json()["case_count"] == 1


async def test_add_the_same_case_twice_is_a_conflict(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite = await create_suite()
    case, other = await create_case(), await create_case()
    assert (await _add(client, suite["id"], case["id"])).status_code == 201
    assert (await _add(client, suite["id"], other["id"])).status_code == 201

    response = await _add(client, suite["id"], case["id"], position=2)

    assert_problem(response, 409, "suite_case_exists")
    assert await suite_members(suite["id"]) == [(case["id"], 1), (other["id"], 2)]


async def test_add_the_same_case_to_two_suites_succeeds(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    first, second = await create_suite(), await create_suite()
    case = await create_case()

    responses = [await _add(client, s["id"], case["id"]) for s in (first, second)]

    assert [r.status_code for r in responses] == [201, 201]
    fetched_case = (await client.get(f"/api/v1/test-cases/{case['id']}")).json()
    assert sorted(s["id"] for s in fetched_case["suites"]) == sorted([first["id"], second["id"]])


async def test_add_an_unknown_case_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, suite_members: SuiteMembers
) -> None:
    suite = await create_suite()

    response = await _add(client, suite["id"], 2_147_483_647)

    problem = assert_problem(response, 422, "test_case_not_found")
    assert problem["errors"][0]["loc"] == ["body", "test_case_id"]
    assert await suite_members(suite["id"]) == []


async def test_add_a_deleted_case_is_rejected(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
) -> None:
    suite, case = await create_suite(), await create_case()
    assert (await client.delete(f"/api/v1/test-cases/{case['id']}")).status_code == 204

    response = await _add(client, suite["id"], case["id"])

    assert_problem(response, 422, "test_case_not_found")
    assert await suite_members(suite["id"]) == []


async def test_add_to_a_suite_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    response = await _add(client, 2_147_483_647, case["id"])

    assert_problem(response, 404, "suite_not_found")


async def test_add_to_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite, case = await create_suite(), await create_case()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await _add(client, suite["id"], case["id"])

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"test_case_id": "abc"}, "test_case_id"),
        ({"test_case_id": None}, "test_case_id"),
        ({"test_case_id": 1.5}, "test_case_id"),
        ({"test_case_id": 0}, "test_case_id"),
        ({"test_case_id": 2**31}, "test_case_id"),
        ({"test_case_id": 2**64}, "test_case_id"),
        ({"position": 0}, "position"),
        ({"position": -1}, "position"),
        ({"position": "first"}, "position"),
        ({"position": 2**31}, "position"),
        ({"position": 2**64}, "position"),
        ({"suite_id": 1}, "suite_id"),
    ],
)
async def test_add_with_an_invalid_body_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
    extra: dict[str, Any],
    field: str,
) -> None:
    suite, case = await create_suite(), await create_case()

    response = await client.post(
        f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": case["id"], **extra}
    )

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", field]
    assert await suite_members(suite["id"]) == []


async def test_add_without_a_test_case_id_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.post(f"/api/v1/suites/{suite['id']}/cases", json={"position": 1})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "test_case_id"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{nope", "application/json"), (b"7", "application/json"), (b"id=7", "text/plain")],
)
async def test_add_with_a_body_that_is_not_a_json_object_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, content: bytes, content_type: str
) -> None:
    suite = await create_suite()

    response = await client.post(
        f"/api/v1/suites/{suite['id']}/cases",
        content=content,
        headers={"content-type": content_type},
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("suite_id", ["0", "abc", str(2**31)])
async def test_add_with_a_suite_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, create_case: Factory, suite_id: str
) -> None:
    case = await create_case()

    response = await client.post(
        f"/api/v1/suites/{suite_id}/cases", json={"test_case_id": case["id"]}
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("field", ["test_case_id", "position"])
async def test_add_with_json_nested_past_the_limit_is_refused_and_links_nothing(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    suite_members: SuiteMembers,
    field: str,
    depth: int,
) -> None:
    suite, case = await create_suite(), await create_case()
    body = with_nested({"test_case_id": case["id"], field: "NESTED"}, depth)

    response = await send_quietly(client, "POST", f"/api/v1/suites/{suite['id']}/cases", body)

    assert_too_deep(response)
    assert await suite_members(suite["id"]) == []
