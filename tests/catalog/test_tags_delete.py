from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def test_delete_answers_204_and_the_tag_is_gone(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    tag = await create_tag()

    response = await client.delete(f"/api/v1/tags/{tag['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(f"/api/v1/tags/{tag['id']}"), 404, "tag_not_found")
    listing = await client.get("/api/v1/tags", params={"q": tag["name"]})
    assert listing.json()["items"] == []


async def test_delete_twice_is_not_found_the_second_time(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    tag = await create_tag()
    assert (await client.delete(f"/api/v1/tags/{tag['id']}")).status_code == 204

    response = await client.delete(f"/api/v1/tags/{tag['id']}")

    assert_problem(response, 404, "tag_not_found")


async def test_delete_unlinks_the_tag_from_every_case(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    doomed, kept = unique("doomed"), unique("kept")
    cases = [await create_case(tags=[doomed, kept]) for _ in range(2)]
    deleted_case = await create_case(tags=[doomed])
    assert (await client.delete(f"/api/v1/test-cases/{deleted_case['id']}")).status_code == 204
    tag_id = next(t["id"] for t in cases[0]["tags"] if t["name"] == doomed)

    response = await client.delete(f"/api/v1/tags/{tag_id}")

    assert response.status_code == 204, response.text
    for case in cases:
        fetched = await client.get(f"/api/v1/test-cases/{case['id']}")
        assert [t["name"] for t in fetched.json()["tags"]] == [kept]
    restored = await client.post(f"/api/v1/test-cases/{deleted_case['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["tags"] == []
    by_tag = await client.get("/api/v1/test-cases", params={"tag": doomed})
    assert by_tag.json()["items"] == []


async def test_delete_leaves_the_cases_themselves_alone(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    case = await create_case(tags=[unique("only")])

    response = await client.delete(f"/api/v1/tags/{case['tags'][0]['id']}")

    assert response.status_code == 204, response.text
    fetched = await client.get(f"/api/v1/test-cases/{case['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["version"] == case["version"]
    assert fetched.json()["tags"] == []


async def test_delete_frees_the_name_for_a_new_tag(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    tag = await create_tag()
    assert (await client.delete(f"/api/v1/tags/{tag['id']}")).status_code == 204

    response = await client.post("/api/v1/tags", json={"name": tag["name"]})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == tag["name"]
    assert response.json()["case_count"] == 0


async def test_delete_a_tag_that_does_not_exist_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/tags/2147483647")

    assert_problem(response, 404, "tag_not_found")


@pytest.mark.parametrize("tag_id", ["0", "abc", str(2**31), str(2**64)])
async def test_delete_with_an_id_that_is_not_a_valid_id_is_rejected(
    client: httpx.AsyncClient, tag_id: str
) -> None:
    response = await client.delete(f"/api/v1/tags/{tag_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "tag_id"]
