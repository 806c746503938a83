from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]
ReadTag = Callable[[int], Awaitable[dict[str, Any]]]


async def test_rename_answers_the_tag_with_its_new_name(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str], read_tag: ReadTag
) -> None:
    tag = await create_tag()
    new_name = unique("renamed")

    response = await client.patch(f"/api/v1/tags/{tag['id']}", json={"name": f" {new_name} "})

    assert response.status_code == 200, response.text
    assert response.json() == {"id": tag["id"], "name": new_name, "case_count": 0}
    assert await read_tag(tag["id"]) == response.json()


async def test_rename_shows_the_new_name_on_the_cases_that_carry_the_tag(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    old_name, new_name = unique("old"), unique("new")
    cases = [await create_case(tags=[old_name]) for _ in range(2)]
    tag_id = cases[0]["tags"][0]["id"]

    response = await client.patch(f"/api/v1/tags/{tag_id}", json={"name": new_name})

    assert response.status_code == 200, response.text
    assert response.json()["case_count"] == 2
    for case in cases:
        fetched = (await client.get(f"/api/v1/test-cases/{case['id']}")).json()
        assert fetched["tags"] == [{"id": tag_id, "name": new_name}]
    by_new = await client.get("/api/v1/test-cases", params={"tag": new_name})
    assert sorted(c["id"] for c in by_new.json()["items"]) == sorted(c["id"] for c in cases)


async def test_rename_frees_the_old_name(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    tag = await create_tag()
    renamed = await client.patch(f"/api/v1/tags/{tag['id']}", json={"name": unique("moved")})
    assert renamed.status_code == 200, renamed.text

    response = await client.post("/api/v1/tags", json={"name": tag["name"]})

    assert response.status_code == 201, response.text
    assert response.json()["id"] != tag["id"]


async def test_rename_to_a_taken_name_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient, create_tag: Factory, read_tag: ReadTag
) -> None:
    taken, tag = await create_tag(), await create_tag()

    response = await client.patch(f"/api/v1/tags/{tag['id']}", json={"name": taken["name"]})

    assert_problem(response, 409, "tag_name_conflict")
    assert await read_tag(tag["id"]) == tag
    assert await read_tag(taken["id"]) == taken


async def test_rename_to_its_own_name_succeeds(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    tag = await create_tag()

    response = await client.patch(f"/api/v1/tags/{tag['id']}", json={"name": tag["name"]})

    assert response.status_code == 200, response.text
    assert response.json() == tag


async def test_rename_a_tag_that_does_not_exist_is_not_found(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    response = await client.patch("/api/v1/tags/2147483647", json={"name": unique("ghost")})

    assert_problem(response, 404, "tag_not_found")


async def test_rename_a_deleted_tag_is_not_found(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    tag = await create_tag()
    assert (await client.delete(f"/api/v1/tags/{tag['id']}")).status_code == 204

    response = await client.patch(f"/api/v1/tags/{tag['id']}", json={"name": unique("late")})

    assert_problem(response, 404, "tag_not_found")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "name"]),
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "  "}, ["body", "name"]),
        ({"name": "y" * 101}, ["body", "name"]),
        ({"name": 7}, ["body", "name"]),
        ({"name": "nul\x00tag"}, ["body", "name"]),
        ({"name": "fine", "case_count": 3}, ["body", "case_count"]),
    ],
)
async def test_rename_with_an_invalid_body_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient,
    create_tag: Factory,
    read_tag: ReadTag,
    body: dict[str, Any],
    loc: list[str],
) -> None:
    tag = await create_tag()

    response = await client.patch(f"/api/v1/tags/{tag['id']}", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert await read_tag(tag["id"]) == tag


async def test_the_documented_rename_body_requires_a_name_as_a_string_never_null(
    request_body_schema: Callable[[str, str], Awaitable[dict[str, Any]]],
) -> None:
    schema = await request_body_schema("patch", "/api/v1/tags/{tag_id}")

    assert schema["required"] == ["name"]
    name = schema["properties"]["name"]
    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, 100)
    assert "anyOf" not in name


@pytest.mark.parametrize(
    ("content", "content_type"), [(b"{x", "application/json"), (b"new", "text/plain")]
)
async def test_rename_with_a_body_that_is_not_json_is_rejected(
    client: httpx.AsyncClient,
    create_tag: Factory,
    read_tag: ReadTag,
    content: bytes,
    content_type: str,
) -> None:
    tag = await create_tag()

    response = await client.patch(
        f"/api/v1/tags/{tag['id']}", content=content, headers={"content-type": content_type}
    )

    assert_problem(response, 422, "validation_error")
    assert await read_tag(tag["id"]) == tag


@pytest.mark.parametrize("tag_id", ["0", "abc", str(2**31)])
async def test_rename_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, tag_id: str
) -> None:
    response = await client.patch(f"/api/v1/tags/{tag_id}", json={"name": "whatever"})

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
async def test_rename_with_json_nested_past_the_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, create_tag: Factory, read_tag: ReadTag, depth: int
) -> None:
    tag = await create_tag()

    response = await send_quietly(
        client, "PATCH", f"/api/v1/tags/{tag['id']}", with_nested({"name": "NESTED"}, depth)
    )

    assert_too_deep(response)
    assert await read_tag(tag["id"]) == tag
