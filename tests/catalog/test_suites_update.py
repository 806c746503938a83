from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
ReadSuite = Callable[[int], Awaitable[dict[str, Any]]]


async def test_patch_renames_the_suite_and_bumps_the_version(
    client: httpx.AsyncClient,
    create_suite: Factory,
    unique: Callable[[str], str],
    read_suite: ReadSuite,
) -> None:
    suite = await create_suite(description="kept")
    new_name = unique("renamed")

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": f" {new_name} "})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == new_name
    assert body["description"] == "kept"
    assert body["version"] == 2
    assert response.headers["etag"] == '"2"'
    assert body["updated_at"] >= suite["updated_at"]
    assert await read_suite(suite["id"]) == body


async def test_patch_sets_and_clears_the_description(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    described = await client.patch(f"/api/v1/suites/{suite['id']}", json={"description": "Docs"})
    cleared = await client.patch(f"/api/v1/suites/{suite['id']}", json={"description": None})

    assert described.status_code == 200, described.text
    assert described.json()["description"] == "Docs"
    assert described.json()["name"] == suite["name"]
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["description"] is None
    assert cleared.json()["version"] == 3


async def test_patch_moves_the_suite_under_another_parent(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    old_parent, new_parent = await create_suite(), await create_suite()
    suite = await create_suite(parent_id=old_parent["id"])

    response = await client.patch(
        f"/api/v1/suites/{suite['id']}", json={"parent_id": new_parent["id"]}
    )

    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == new_parent["id"]
    under_new = await client.get("/api/v1/suites", params={"parent_id": new_parent["id"]})
    under_old = await client.get("/api/v1/suites", params={"parent_id": old_parent["id"]})
    assert [s["id"] for s in under_new.json()["items"]] == [suite["id"]]
    assert under_old.json()["items"] == []


async def test_patch_with_parent_id_null_moves_the_suite_to_the_root(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    parent = await create_suite()
    suite = await create_suite(parent_id=parent["id"])

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"parent_id": None})

    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] is None
    roots = await client.get("/api/v1/suites", params={"root": "true", "q": suite["name"]})
    assert [s["id"] for s in roots.json()["items"]] == [suite["id"]]


async def test_patch_without_parent_id_leaves_the_parent_alone(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    parent = await create_suite()
    suite = await create_suite(parent_id=parent["id"])

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": unique("new")})

    assert response.status_code == 200, response.text
    assert response.json()["parent_id"] == parent["id"]


async def test_patch_moving_a_suite_under_its_own_descendant_is_a_cycle(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    top = await create_suite()
    child = await create_suite(parent_id=top["id"])
    grandchild = await create_suite(parent_id=child["id"])

    for target in (child, grandchild):
        response = await client.patch(
            f"/api/v1/suites/{top['id']}", json={"parent_id": target["id"]}
        )
        assert_problem(response, 409, "suite_cycle")

    assert await read_suite(top["id"]) == top
    assert (await read_suite(child["id"]))["parent_id"] == top["id"]
    assert (await read_suite(grandchild["id"]))["parent_id"] == child["id"]


async def test_patch_moving_a_suite_under_itself_is_a_cycle(
    client: httpx.AsyncClient,
    create_suite: Factory,
    unique: Callable[[str], str],
    read_suite: ReadSuite,
) -> None:
    suite = await create_suite()

    response = await client.patch(
        f"/api/v1/suites/{suite['id']}",
        json={"parent_id": suite["id"], "name": unique("moved"), "description": "x"},
    )

    assert_problem(response, 409, "suite_cycle")
    assert await read_suite(suite["id"]) == suite


async def test_patch_with_the_current_if_match_succeeds(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.patch(
        f"/api/v1/suites/{suite['id']}", json={"description": "ok"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'


async def test_patch_with_a_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    create_suite: Factory,
    unique: Callable[[str], str],
    read_suite: ReadSuite,
) -> None:
    suite = await create_suite()
    first = await client.patch(
        f"/api/v1/suites/{suite['id']}", json={"description": "first"}, headers={"If-Match": '"1"'}
    )
    assert first.status_code == 200, first.text
    current = first.json()

    response = await client.patch(
        f"/api/v1/suites/{suite['id']}",
        json={"name": unique("late"), "description": "second"},
        headers={"If-Match": '"1"'},
    )

    assert_problem(response, 412, "precondition_failed")
    assert await read_suite(suite["id"]) == current


async def test_patch_renaming_to_a_sibling_name_is_a_conflict(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    parent = await create_suite()
    sibling = await create_suite(parent_id=parent["id"])
    suite = await create_suite(parent_id=parent["id"])

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": sibling["name"]})

    assert_problem(response, 409, "suite_name_conflict")
    assert await read_suite(suite["id"]) == suite


async def test_patch_renaming_a_root_suite_to_another_root_name_is_a_conflict(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    other, suite = await create_suite(), await create_suite()

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": other["name"]})

    assert_problem(response, 409, "suite_name_conflict")
    assert await read_suite(suite["id"]) == suite


async def test_patch_moving_next_to_a_suite_with_the_same_name_is_a_conflict(
    client: httpx.AsyncClient,
    create_suite: Factory,
    unique: Callable[[str], str],
    read_suite: ReadSuite,
) -> None:
    name = unique("twin")
    first_parent, second_parent = await create_suite(), await create_suite()
    await create_suite(name=name, parent_id=first_parent["id"])
    suite = await create_suite(name=name, parent_id=second_parent["id"])

    into_parent = await client.patch(
        f"/api/v1/suites/{suite['id']}", json={"parent_id": first_parent["id"]}
    )
    await create_suite(name=name)
    to_root = await client.patch(f"/api/v1/suites/{suite['id']}", json={"parent_id": None})

    assert_problem(into_parent, 409, "suite_name_conflict")
    assert_problem(to_root, 409, "suite_name_conflict")
    assert await read_suite(suite["id"]) == suite


async def test_patch_renaming_to_a_name_used_under_another_parent_succeeds(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    elsewhere = await create_suite(parent_id=(await create_suite())["id"])
    suite = await create_suite()

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": elsewhere["name"]})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == elsewhere["name"]


async def test_patch_renaming_to_the_name_of_a_deleted_sibling_succeeds(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    deleted, suite = await create_suite(), await create_suite()
    assert (await client.delete(f"/api/v1/suites/{deleted['id']}")).status_code == 204

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": deleted["name"]})

    assert response.status_code == 200, response.text


async def test_patch_keeping_its_own_name_is_not_a_conflict(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"name": suite["name"]})

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


async def test_patch_moving_under_an_unknown_parent_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, read_suite: ReadSuite
) -> None:
    suite = await create_suite()

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"parent_id": 2147483647})

    problem = assert_problem(response, 422, "parent_suite_not_found")
    assert problem["errors"][0]["loc"] == ["body", "parent_id"]
    assert await read_suite(suite["id"]) == suite


async def test_patch_moving_under_a_deleted_parent_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    gone, suite = await create_suite(), await create_suite()
    assert (await client.delete(f"/api/v1/suites/{gone['id']}")).status_code == 204

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"parent_id": gone["id"]})

    assert_problem(response, 422, "parent_suite_not_found")


async def test_patch_a_suite_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/suites/2147483647", json={"description": "x"})

    assert_problem(response, 404, "suite_not_found")


async def test_patch_a_deleted_suite_is_not_found(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json={"description": "x"})

    assert_problem(response, 404, "suite_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, None),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 5}, "name"),
        ({"name": "nul\x00name"}, "name"),
        ({"description": ["x"]}, "description"),
        ({"description": "nul\x00text"}, "description"),
        ({"parent_id": "root"}, "parent_id"),
        ({"parent_id": 0}, "parent_id"),
        ({"parent_id": 2**31}, "parent_id"),
        ({"parent_id": 2**64}, "parent_id"),
        ({"color": "red"}, "color"),
        ({"version": 7}, "version"),
    ],
)
async def test_patch_with_an_invalid_body_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient,
    create_suite: Factory,
    read_suite: ReadSuite,
    body: dict[str, Any],
    field: str | None,
) -> None:
    suite = await create_suite()

    response = await client.patch(f"/api/v1/suites/{suite['id']}", json=body)

    problem = assert_problem(response, 422, "validation_error")
    if field is not None:
        assert problem["errors"][0]["loc"][:2] == ["body", field]
    assert await read_suite(suite["id"]) == suite


async def test_the_documented_patch_body_takes_a_name_as_a_string_never_null(
    request_body_schema: Callable[[str, str], Awaitable[dict[str, Any]]],
) -> None:
    schema = await request_body_schema("patch", "/api/v1/suites/{suite_id}")

    name = schema["properties"]["name"]
    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, 255)
    assert "anyOf" not in name
    assert "default" not in name
    # A null parent moves the suite to the root, and the schema says so.
    assert {"type": "null"} in schema["properties"]["parent_id"]["anyOf"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"{oops", "application/json"), (b"name=x", "text/plain"), (b"[1, 2]", "application/json")],
)
async def test_patch_with_a_body_that_is_not_a_json_object_is_rejected(
    client: httpx.AsyncClient,
    create_suite: Factory,
    read_suite: ReadSuite,
    content: bytes,
    content_type: str,
) -> None:
    suite = await create_suite()

    response = await client.patch(
        f"/api/v1/suites/{suite['id']}", content=content, headers={"content-type": content_type}
    )

    assert_problem(response, 422, "validation_error")
    assert await read_suite(suite["id"]) == suite


@pytest.mark.parametrize("suite_id", ["0", "abc", str(2**31)])
async def test_patch_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, suite_id: str
) -> None:
    response = await client.patch(f"/api/v1/suites/{suite_id}", json={"description": "x"})

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("field", ["name", "description", "parent_id"])
async def test_patch_with_json_nested_past_the_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    create_suite: Factory,
    read_suite: ReadSuite,
    field: str,
    depth: int,
) -> None:
    suite = await create_suite()

    response = await send_quietly(
        client, "PATCH", f"/api/v1/suites/{suite['id']}", with_nested({field: "NESTED"}, depth)
    )

    assert_too_deep(response)
    assert await read_suite(suite["id"]) == suite
