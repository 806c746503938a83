from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def _tree(client: httpx.AsyncClient, suite_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/suites/{suite_id}/tree")
    assert response.status_code == 200, response.text
    tree: dict[str, Any] = response.json()
    return tree


def _shape(node: dict[str, Any]) -> tuple[str, list[Any]]:
    return node["name"], [_shape(child) for child in node["children"]]


async def test_tree_nests_children_and_grandchildren(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    root = await create_suite()
    api = await create_suite(name="api", parent_id=root["id"])
    ui = await create_suite(name="ui", parent_id=root["id"])
    auth = await create_suite(name="auth", parent_id=api["id"])
    await create_suite(name="tokens", parent_id=auth["id"])

    tree = await _tree(client, root["id"])

    assert _shape(tree) == (
        root["name"],
        [("api", [("auth", [("tokens", [])])]), ("ui", [])],
    )
    assert tree["id"] == root["id"]
    assert tree["parent_id"] is None
    api_node = tree["children"][0]
    assert api_node["id"] == api["id"]
    assert api_node["parent_id"] == root["id"]
    assert api_node["children"][0]["id"] == auth["id"]
    assert tree["children"][1]["id"] == ui["id"]
    assert {"version", "created_at", "updated_at", "is_deleted", "case_count"} <= set(tree)


async def test_tree_orders_children_by_name(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    root = await create_suite()
    for name in ["delta", "alpha", "charlie", "bravo"]:
        await create_suite(name=name, parent_id=root["id"])

    tree = await _tree(client, root["id"])

    assert [child["name"] for child in tree["children"]] == ["alpha", "bravo", "charlie", "delta"]


async def test_tree_leaves_out_deleted_children_and_their_former_subtree(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    root = await create_suite()
    kept = await create_suite(name="kept", parent_id=root["id"])
    doomed = await create_suite(name="doomed", parent_id=root["id"])
    await create_suite(name="orphan", parent_id=doomed["id"])
    assert (await client.delete(f"/api/v1/suites/{doomed['id']}")).status_code == 204

    tree = await _tree(client, root["id"])

    assert _shape(tree) == (root["name"], [("kept", [])])
    assert tree["children"][0]["id"] == kept["id"]


async def test_tree_of_a_suite_without_children_has_an_empty_children_list(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    leaf = await create_suite()

    tree = await _tree(client, leaf["id"])

    assert tree["children"] == []
    assert tree["id"] == leaf["id"]


async def test_tree_of_a_child_suite_starts_at_that_suite(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    root = await create_suite()
    middle = await create_suite(name="middle", parent_id=root["id"])
    await create_suite(name="leaf", parent_id=middle["id"])

    tree = await _tree(client, middle["id"])

    assert _shape(tree) == ("middle", [("leaf", [])])
    assert tree["parent_id"] == root["id"]


async def test_tree_shows_the_case_count_of_every_node(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    root = await create_suite()
    child = await create_suite(name="child", parent_id=root["id"])
    for suite_id, count in ((root["id"], 1), (child["id"], 2)):
        for _ in range(count):
            case = await create_case()
            linked = await client.post(
                f"/api/v1/suites/{suite_id}/cases", json={"test_case_id": case["id"]}
            )
            assert linked.status_code == 201, linked.text

    tree = await _tree(client, root["id"])

    assert tree["case_count"] == 1
    assert tree["children"][0]["case_count"] == 2


async def test_tree_follows_a_suite_moved_in_from_elsewhere(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    root, elsewhere = await create_suite(), await create_suite()
    moved = await create_suite(name="moved", parent_id=elsewhere["id"])
    await create_suite(name="along", parent_id=moved["id"])
    patched = await client.patch(f"/api/v1/suites/{moved['id']}", json={"parent_id": root["id"]})
    assert patched.status_code == 200, patched.text

    tree = await _tree(client, root["id"])

    assert _shape(tree) == (root["name"], [("moved", [("along", [])])])
    assert (await _tree(client, elsewhere["id"]))["children"] == []


async def test_tree_of_a_suite_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/suites/2147483647/tree")

    assert_problem(response, 404, "suite_not_found")


async def test_tree_of_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.get(f"/api/v1/suites/{suite['id']}/tree")

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize("suite_id", ["0", "abc", str(2**31)])
async def test_tree_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str
) -> None:
    response = await client.get(f"/api/v1/suites/{suite_id}/tree")

    assert_problem(response, 422, "validation_error")
