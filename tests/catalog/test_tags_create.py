from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def _tags_named(client: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/tags", params={"q": name, "limit": 500})
    assert response.status_code == 200, response.text
    return [t for t in response.json()["items"] if t["name"] == name]


async def test_create_answers_201_with_location_and_the_tag(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("smoke")

    response = await client.post("/api/v1/tags", json={"name": name})

    assert response.status_code == 201, response.text
    tag = response.json()
    assert response.headers["location"] == f"/api/v1/tags/{tag['id']}"
    assert tag == {"id": tag["id"], "name": name, "case_count": 0}
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == tag


async def test_create_trims_the_name(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("trim")

    response = await client.post("/api/v1/tags", json={"name": f"\t {name} "})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


async def test_create_with_an_existing_name_is_a_conflict(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    existing = await create_tag()

    response = await client.post("/api/v1/tags", json={"name": f" {existing['name']} "})

    assert_problem(response, 409, "tag_name_conflict")
    assert [t["id"] for t in await _tags_named(client, existing["name"])] == [existing["id"]]


async def test_create_with_the_name_of_a_tag_made_by_a_test_case_is_a_conflict(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    name = unique("implicit")
    case = await create_case(tags=[name])

    response = await client.post("/api/v1/tags", json={"name": name})

    assert_problem(response, 409, "tag_name_conflict")
    assert [t["id"] for t in await _tags_named(client, name)] == [case["tags"][0]["id"]]


async def test_create_with_a_name_differing_only_in_case_is_a_new_tag(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    existing = await create_tag()

    response = await client.post("/api/v1/tags", json={"name": existing["name"].upper()})

    assert response.status_code == 201, response.text
    assert response.json()["id"] != existing["id"]


async def test_create_with_a_100_character_name_succeeds(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("long").ljust(100, "x")

    response = await client.post("/api/v1/tags", json={"name": name})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": 42},
        {"name": ["smoke"]},
        {"name": {"name": "smoke"}},
        {"name": "nul\x00tag"},
    ],
)
async def test_create_with_a_missing_blank_too_long_or_wrongly_typed_name_is_rejected(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/tags", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][:2] == ["body", "name"]


async def test_create_with_an_unknown_field_is_rejected(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("extra")

    response = await client.post("/api/v1/tags", json={"name": name, "color": "red"})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "color"]
    assert await _tags_named(client, name) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{broken", "application/json"),
        (b"smoke", "text/plain"),
        (b'["smoke"]', "application/json"),
        (b"null", "application/json"),
    ],
)
async def test_create_with_a_body_that_is_not_a_json_object_is_rejected(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/tags", content=content, headers={"content-type": content_type}
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
async def test_create_with_json_nested_past_the_limit_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, unique: Callable[[str], str], depth: int
) -> None:
    name = unique("deep-tag")

    response = await send_quietly(
        client, "POST", "/api/v1/tags", with_nested({"name": name, "note": "NESTED"}, depth)
    )

    assert_too_deep(response)
    assert await _tags_named(client, name) == []
