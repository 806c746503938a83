from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

API = "/api/v1/test-cases"
UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far

JSON = dict[str, Any]
Unique = Callable[[str], str]
Factory = Callable[..., Awaitable[JSON]]


async def deleted_case(client: httpx.AsyncClient, case: JSON) -> JSON:
    """The case as the listing of deleted cases shows it."""
    response = await client.get(API, params={"q": case["name"], "deleted": "only"})
    assert response.status_code == 200, response.text
    [item] = [item for item in response.json()["items"] if item["id"] == case["id"]]
    found: JSON = item
    return found


async def test_delete_answers_204_without_a_body(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()

    response = await client.delete(f"{API}/{case['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_delete_hides_the_case_from_get_and_the_default_listing(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("gone")
    case = await create_case(tags=[tag])

    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    assert_problem(await client.get(f"{API}/{case['id']}"), 404, "test_case_not_found")
    listed = await client.get(API, params={"tag": tag})
    assert listed.json()["items"] == []


async def test_delete_is_soft_and_keeps_the_case_with_its_children_listed_as_deleted(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    case = await create_case(steps=[{"action": "a"}], tags=[unique("kept")])

    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    item = await deleted_case(client, case)
    assert item["is_deleted"] is True
    assert datetime.fromisoformat(item["deleted_at"]) >= datetime.fromisoformat(case["updated_at"])
    assert item["updated_at"] == item["deleted_at"]
    assert item["version"] == case["version"] + 1
    assert (item["steps"], item["tags"]) == (case["steps"], case["tags"])


async def test_delete_of_a_deleted_case_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    response = await client.delete(f"{API}/{case['id']}")

    assert_problem(response, 404, "test_case_not_found")
    assert (await deleted_case(client, case))["version"] == 2


async def test_delete_of_a_missing_case_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{API}/{UNKNOWN_ID}")

    assert_problem(response, 404, "test_case_not_found")


@pytest.mark.parametrize("test_case_id", [str(2**31), "0", "abc"])
async def test_delete_with_an_id_that_is_no_valid_id_is_rejected(
    client: httpx.AsyncClient, test_case_id: str
) -> None:
    response = await client.delete(f"{API}/{test_case_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "test_case_id"]


@pytest.mark.parametrize("if_match", ['"1"', "*", 'W/"1"'])
async def test_delete_with_a_matching_if_match_succeeds(
    client: httpx.AsyncClient, create_case: Factory, if_match: str
) -> None:
    case = await create_case()

    response = await client.delete(f"{API}/{case['id']}", headers={"If-Match": if_match})

    assert response.status_code == 204, response.text
    assert_problem(await client.get(f"{API}/{case['id']}"), 404, "test_case_not_found")


@pytest.mark.parametrize("if_match", ['"2"', '"0"', "garbage"])
async def test_delete_with_a_stale_if_match_is_refused_and_the_case_stays(
    client: httpx.AsyncClient, create_case: Factory, if_match: str
) -> None:
    case = await create_case()

    response = await client.delete(f"{API}/{case['id']}", headers={"If-Match": if_match})

    assert_problem(response, 412, "precondition_failed")
    still = await client.get(f"{API}/{case['id']}")
    assert still.status_code == 200, still.text
    assert still.json() == case


async def test_delete_with_the_etag_read_before_a_change_is_refused(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    etag = (await client.get(f"{API}/{case['id']}")).headers["etag"]
    patched = await client.patch(f"{API}/{case['id']}", json={"description": "changed"})
    assert patched.status_code == 200, patched.text

    response = await client.delete(f"{API}/{case['id']}", headers={"If-Match": etag})

    assert_problem(response, 412, "precondition_failed")
    assert (await client.get(f"{API}/{case['id']}")).json() == patched.json()


async def test_delete_frees_the_name_for_a_new_case(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    response = await client.post(API, json={"name": case["name"]})

    assert response.status_code == 201, response.text


async def test_delete_takes_the_case_out_of_its_suites_listing(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    case = await create_case(suite_links=[{"suite_id": suite["id"]}])

    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    listed = await client.get(API, params={"suite_id": suite["id"]})
    assert listed.json()["items"] == []
    members = await client.get(f"/api/v1/suites/{suite['id']}")
    assert members.json()["case_count"] == 0
