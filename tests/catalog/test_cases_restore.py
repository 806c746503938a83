from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

API = "/api/v1/test-cases"
UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far

JSON = dict[str, Any]
Unique = Callable[[str], str]
Factory = Callable[..., Awaitable[JSON]]


async def delete(client: httpx.AsyncClient, case: JSON) -> None:
    response = await client.delete(f"{API}/{case['id']}")
    assert response.status_code == 204, response.text


async def test_restore_of_a_deleted_case_makes_it_active_with_a_new_version(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    case = await create_case(steps=[{"action": "a"}], tags=[unique("kept")])
    await delete(client, case)  # version 2

    response = await client.post(f"{API}/{case['id']}/restore")

    assert response.status_code == 200, response.text
    restored = response.json()
    assert restored["is_deleted"] is False
    assert restored["deleted_at"] is None
    assert restored["version"] == 3
    assert response.headers["etag"] == '"3"'
    assert (restored["name"], restored["steps"], restored["tags"]) == (
        case["name"],
        case["steps"],
        case["tags"],
    )
    fetched = await client.get(f"{API}/{case['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == restored


async def test_restore_brings_the_case_back_into_the_default_listing(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("back")
    case = await create_case(tags=[tag])
    await delete(client, case)

    assert (await client.post(f"{API}/{case['id']}/restore")).status_code == 200

    listed = await client.get(API, params={"tag": tag})
    assert [item["id"] for item in listed.json()["items"]] == [case["id"]]
    deleted = await client.get(API, params={"tag": tag, "deleted": "only"})
    assert deleted.json()["items"] == []


async def test_restore_of_an_active_case_answers_it_unchanged(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    first = await client.post(f"{API}/{case['id']}/restore")
    second = await client.post(f"{API}/{case['id']}/restore")

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == case
    assert second.json() == case
    assert second.headers["etag"] == '"1"'


async def test_restore_twice_after_a_delete_bumps_the_version_once(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    await delete(client, case)

    first = await client.post(f"{API}/{case['id']}/restore")
    second = await client.post(f"{API}/{case['id']}/restore")

    assert first.json()["version"] == second.json()["version"] == 3
    assert second.json() == first.json()


async def test_restore_of_a_missing_case_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/{UNKNOWN_ID}/restore")

    assert_problem(response, 404, "test_case_not_found")


@pytest.mark.parametrize("test_case_id", [str(2**31), "0", "abc"])
async def test_restore_with_an_id_that_is_no_valid_id_is_rejected(
    client: httpx.AsyncClient, test_case_id: str
) -> None:
    response = await client.post(f"{API}/{test_case_id}/restore")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "test_case_id"]


async def test_restore_when_an_active_case_took_the_name_is_a_conflict_and_keeps_it_deleted(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    first = await create_case()
    await delete(client, first)
    second = await client.post(API, json={"name": first["name"]})
    assert second.status_code == 201, second.text

    response = await client.post(f"{API}/{first['id']}/restore")

    problem = assert_problem(response, 409, "test_case_name_conflict")
    assert first["name"] in problem["detail"]
    assert_problem(await client.get(f"{API}/{first['id']}"), 404, "test_case_not_found")
    listed = await client.get(API, params={"q": first["name"], "deleted": "include"})
    assert {(item["id"], item["is_deleted"]) for item in listed.json()["items"]} == {
        (first["id"], True),
        (second.json()["id"], False),
    }


async def test_restore_succeeds_once_the_case_that_took_the_name_is_deleted(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    first = await create_case()
    await delete(client, first)
    second = await create_case(name=first["name"])
    await delete(client, second)

    response = await client.post(f"{API}/{first['id']}/restore")

    assert response.status_code == 200, response.text
    assert response.json()["name"] == first["name"]
    assert response.json()["is_deleted"] is False


async def test_restore_of_a_case_renamed_away_from_a_taken_name_is_refused_until_freed(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    first = await create_case()
    await delete(client, first)
    second = await create_case(name=first["name"])
    assert_problem(
        await client.post(f"{API}/{first['id']}/restore"), 409, "test_case_name_conflict"
    )

    renamed = await client.patch(f"{API}/{second['id']}", json={"name": unique("moved")})
    assert renamed.status_code == 200, renamed.text

    response = await client.post(f"{API}/{first['id']}/restore")
    assert response.status_code == 200, response.text
