from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
LinkCase = Callable[[int, int], Awaitable[None]]
ReadSuite = Callable[[int], Awaitable[dict[str, Any]]]


async def test_delete_answers_204_and_the_suite_is_gone(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.delete(f"/api/v1/suites/{suite['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(f"/api/v1/suites/{suite['id']}"), 404, "suite_not_found")
    listing = await client.get("/api/v1/suites", params={"q": suite["name"]})
    assert listing.json()["items"] == []


async def test_delete_twice_is_not_found_the_second_time(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.delete(f"/api/v1/suites/{suite['id']}")

    assert_problem(response, 404, "suite_not_found")


async def test_delete_a_suite_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/suites/2147483647")

    assert_problem(response, 404, "suite_not_found")


async def test_delete_makes_the_children_root_suites(
    client: httpx.AsyncClient,
    create_suite: Factory,
    unique: Callable[[str], str],
    read_suite: ReadSuite,
) -> None:
    token = unique("family")
    parent = await create_suite(name=f"{token} parent")
    children = [
        await create_suite(name=f"{token} child {i}", parent_id=parent["id"]) for i in (1, 2)
    ]

    response = await client.delete(f"/api/v1/suites/{parent['id']}")

    assert response.status_code == 204, response.text
    for child in children:
        assert (await read_suite(child["id"]))["parent_id"] is None
    roots = await client.get("/api/v1/suites", params={"root": "true", "q": token})
    assert [s["id"] for s in roots.json()["items"]] == [c["id"] for c in children]
    under_deleted = await client.get("/api/v1/suites", params={"parent_id": parent["id"]})
    assert under_deleted.json()["items"] == []


async def test_delete_keeps_the_grandchildren_under_their_own_parent(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    top = await create_suite()
    child = await create_suite(parent_id=top["id"])
    grandchild = await create_suite(parent_id=child["id"])

    response = await client.delete(f"/api/v1/suites/{top['id']}")

    assert response.status_code == 204, response.text
    assert (await read_suite(grandchild["id"]))["parent_id"] == child["id"]
    tree = await client.get(f"/api/v1/suites/{child['id']}/tree")
    assert [c["id"] for c in tree.json()["children"]] == [grandchild["id"]]


async def test_delete_removes_the_case_links_of_the_suite(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory, link_case: LinkCase
) -> None:
    suite, other = await create_suite(), await create_suite()
    case = await create_case()
    await link_case(suite["id"], case["id"])
    await link_case(other["id"], case["id"])

    response = await client.delete(f"/api/v1/suites/{suite['id']}")

    assert response.status_code == 204, response.text
    fetched = await client.get(f"/api/v1/test-cases/{case['id']}")
    assert fetched.status_code == 200, fetched.text
    assert [s["id"] for s in fetched.json()["suites"]] == [other["id"]]
    by_suite = await client.get("/api/v1/test-cases", params={"suite_id": suite["id"]})
    assert by_suite.status_code == 200, by_suite.text
    assert by_suite.json()["items"] == []


async def test_delete_when_a_child_name_clashes_with_a_root_suite_is_a_conflict(
    client: httpx.AsyncClient,
    create_suite: Factory,
    create_case: Factory,
    link_case: LinkCase,
    read_suite: ReadSuite,
) -> None:
    parent = await create_suite()
    root_twin = await create_suite()
    child = await create_suite(name=root_twin["name"], parent_id=parent["id"])
    case = await create_case()
    await link_case(parent["id"], case["id"])
    parent = await read_suite(parent["id"])

    response = await client.delete(f"/api/v1/suites/{parent['id']}")

    problem = assert_problem(response, 409, "suite_name_conflict")
    assert root_twin["name"] in problem["detail"]
    assert await read_suite(parent["id"]) == parent
    assert await read_suite(child["id"]) == child
    assert await read_suite(root_twin["id"]) == root_twin
    members = await client.get(f"/api/v1/suites/{parent['id']}/cases")
    assert [m["test_case_id"] for m in members.json()["items"]] == [case["id"]]


async def test_delete_a_root_suite_with_a_child_of_the_same_name_succeeds(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    parent = await create_suite()
    child = await create_suite(name=parent["name"], parent_id=parent["id"])

    response = await client.delete(f"/api/v1/suites/{parent['id']}")

    assert response.status_code == 204, response.text
    assert (await read_suite(child["id"]))["parent_id"] is None


async def test_delete_with_the_current_if_match_succeeds(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.delete(f"/api/v1/suites/{suite['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 204, response.text


async def test_delete_with_a_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    parent = await create_suite()
    child = await create_suite(parent_id=parent["id"])
    patched = await client.patch(f"/api/v1/suites/{parent['id']}", json={"description": "v2"})
    assert patched.status_code == 200, patched.text

    response = await client.delete(f"/api/v1/suites/{parent['id']}", headers={"If-Match": '"1"'})

    assert_problem(response, 412, "precondition_failed")
    assert await read_suite(parent["id"]) == patched.json()
    assert (await read_suite(child["id"]))["parent_id"] == parent["id"]


@pytest.mark.parametrize("suite_id", ["0", "abc", str(2**31)])
async def test_delete_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str
) -> None:
    response = await client.delete(f"/api/v1/suites/{suite_id}")

    assert_problem(response, 422, "validation_error")
