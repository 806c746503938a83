from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def _suites_named(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/suites", params={"q": name, "limit": 500})
    assert response.status_code == 200, response.text
    return [s for s in response.json()["items"] if s["name"] == name]


async def test_create_answers_201_with_location_etag_and_the_suite(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("API Suite")

    response = await client.post(
        "/api/v1/suites", json={"name": name, "description": "Everything HTTP"}
    )

    assert response.status_code == 201, response.text
    suite = response.json()
    assert response.headers["location"] == f"/api/v1/suites/{suite['id']}"
    assert response.headers["etag"] == '"1"'
    assert suite["name"] == name
    assert suite["description"] == "Everything HTTP"
    assert suite["parent_id"] is None
    assert suite["version"] == 1
    assert suite["is_deleted"] is False
    assert suite["case_count"] == 0
    assert suite["created_at"].endswith("+00:00")
    assert suite["updated_at"].endswith("+00:00")
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == suite


async def test_create_trims_the_name(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("trimmed")

    response = await client.post("/api/v1/suites", json={"name": f"  {name}  "})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


async def test_create_under_a_parent_sets_parent_id(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    parent = await create_suite()

    response = await client.post(
        "/api/v1/suites", json={"name": unique("child"), "parent_id": parent["id"]}
    )

    assert response.status_code == 201, response.text
    assert response.json()["parent_id"] == parent["id"]


async def test_create_with_a_name_taken_by_an_active_root_suite_is_a_conflict(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    existing = await create_suite()

    response = await client.post("/api/v1/suites", json={"name": existing["name"]})

    assert_problem(response, 409, "suite_name_conflict")
    assert [s["id"] for s in await _suites_named(client, existing["name"])] == [existing["id"]]


async def test_create_with_a_name_taken_by_a_sibling_under_the_same_parent_is_a_conflict(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    parent = await create_suite()
    sibling = await create_suite(parent_id=parent["id"])

    response = await client.post(
        "/api/v1/suites", json={"name": f" {sibling['name']} ", "parent_id": parent["id"]}
    )

    assert_problem(response, 409, "suite_name_conflict")
    children = await client.get("/api/v1/suites", params={"parent_id": parent["id"]})
    assert [s["id"] for s in children.json()["items"]] == [sibling["id"]]


async def test_create_with_the_same_name_under_different_parents_succeeds(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    first_parent, second_parent = await create_suite(), await create_suite()
    name = unique("Smoke")

    first = await client.post(
        "/api/v1/suites", json={"name": name, "parent_id": first_parent["id"]}
    )
    second = await client.post(
        "/api/v1/suites", json={"name": name, "parent_id": second_parent["id"]}
    )
    root = await client.post("/api/v1/suites", json={"name": name})

    assert (first.status_code, second.status_code, root.status_code) == (201, 201, 201)
    assert len({first.json()["id"], second.json()["id"], root.json()["id"]}) == 3


async def test_create_with_the_name_of_a_deleted_suite_succeeds(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    old = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{old['id']}")).status_code == 204

    response = await client.post("/api/v1/suites", json={"name": old["name"]})

    assert response.status_code == 201, response.text
    assert response.json()["id"] != old["id"]


async def test_create_with_an_unknown_parent_is_rejected(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("orphan")

    response = await client.post("/api/v1/suites", json={"name": name, "parent_id": 2_147_483_647})

    problem = assert_problem(response, 422, "parent_suite_not_found")
    assert problem["errors"][0]["loc"] == ["body", "parent_id"]
    assert await _suites_named(client, name) == []


async def test_create_under_a_deleted_parent_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    parent = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{parent['id']}")).status_code == 204

    response = await client.post(
        "/api/v1/suites", json={"name": unique("child"), "parent_id": parent["id"]}
    )

    assert_problem(response, 422, "parent_suite_not_found")


@pytest.mark.parametrize("name", ["", "   ", "x" * 300, None])
async def test_create_with_a_blank_too_long_or_null_name_is_rejected(
    client: httpx.AsyncClient, name: str | None
) -> None:
    response = await client.post("/api/v1/suites", json={"name": name})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "name"]


async def test_create_with_a_255_character_name_succeeds(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("long").ljust(255, "x")

    response = await client.post("/api/v1/suites", json={"name": name})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


async def test_create_without_a_name_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/suites", json={"description": "no name"})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "name"]


async def test_create_with_an_unknown_field_is_rejected(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("extra")

    response = await client.post("/api/v1/suites", json={"name": name, "owner": "me"})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "owner"]
    assert await _suites_named(client, name) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 123),
        ("name", ["a"]),
        ("description", 5),
        ("parent_id", "abc"),
        ("parent_id", 1.5),
        ("parent_id", 0),
        ("parent_id", -3),
        ("parent_id", {"id": 1}),
    ],
)
async def test_create_with_a_wrong_type_is_rejected(
    client: httpx.AsyncClient, unique: Callable[[str], str], field: str, value: Any
) -> None:
    body = {"name": unique("typed"), field: value}

    response = await client.post("/api/v1/suites", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", field]


@pytest.mark.parametrize(
    "body", [{"name": "nul\x00name"}, {"name": "fine", "description": "nul\x00text"}]
)
async def test_create_with_a_nul_character_is_rejected_not_a_server_error(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    response = await client.post("/api/v1/suites", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", next(k for k in body if "\x00" in body[k])]


@pytest.mark.parametrize("parent_id", [2**31, 2**63, 10**30])
async def test_create_with_a_parent_id_beyond_32_bits_is_rejected_not_a_server_error(
    client: httpx.AsyncClient, unique: Callable[[str], str], parent_id: int
) -> None:
    response = await client.post(
        "/api/v1/suites", json={"name": unique("huge"), "parent_id": parent_id}
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"name=x", "application/x-www-form-urlencoded"),
        (b"plain words", "text/plain"),
        (b"[]", "application/json"),
        (b'"a string"', "application/json"),
        (b"", "application/json"),
    ],
)
async def test_create_with_a_body_that_is_not_a_json_object_is_rejected(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/suites", content=content, headers={"content-type": content_type}
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("field", ["description", "parent_id", "color"])
async def test_create_with_json_nested_past_the_limit_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, unique: Callable[[str], str], field: str, depth: int
) -> None:
    name = unique("deep-suite")
    body = with_nested({"name": name, field: "NESTED"}, depth)

    response = await send_quietly(client, "POST", "/api/v1/suites", body)

    assert_too_deep(response)
    assert await _suites_named(client, name) == []
