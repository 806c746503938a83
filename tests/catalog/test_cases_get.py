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


async def test_get_answers_the_case_with_its_version_as_etag(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    created = await create_case(
        description="Checks the login",
        steps=[{"action": "Open login page", "expected": "Form shown"}],
        tags=[unique("tag")],
        suite_links=[{"suite_name": unique("suite")}],
    )

    response = await client.get(f"{API}/{created['id']}")

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == created


async def test_get_etag_follows_the_version_after_a_change(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    patched = await client.patch(f"{API}/{case['id']}", json={"description": "changed"})
    assert patched.status_code == 200, patched.text

    response = await client.get(f"{API}/{case['id']}")

    assert response.headers["etag"] == '"2"'
    assert response.json()["version"] == 2
    assert response.json()["description"] == "changed"


async def test_get_returns_steps_ordered_by_position(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case(
        steps=[
            {"position": 9, "action": "last"},
            {"position": 2, "action": "first"},
            {"position": 4, "action": "middle"},
        ]
    )

    response = await client.get(f"{API}/{case['id']}")

    assert [(s["position"], s["action"]) for s in response.json()["steps"]] == [
        (2, "first"),
        (4, "middle"),
        (9, "last"),
    ]


async def test_get_of_a_missing_id_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/{UNKNOWN_ID}")

    problem = assert_problem(response, 404, "test_case_not_found")
    assert str(UNKNOWN_ID) in problem["detail"]


async def test_get_of_a_deleted_case_is_not_found(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case()
    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    response = await client.get(f"{API}/{case['id']}")

    assert_problem(response, 404, "test_case_not_found")


@pytest.mark.parametrize(
    "test_case_id",
    [
        pytest.param(str(2**31), id="2^31"),
        pytest.param(str(2**63), id="2^63"),
        pytest.param("1" + "0" * 40, id="41-digits"),
        pytest.param("0", id="zero"),
        pytest.param("-1", id="negative"),
        pytest.param("abc", id="text"),
        pytest.param("1.5", id="fraction"),
    ],
)
async def test_get_with_an_id_that_is_no_valid_id_is_rejected(
    client: httpx.AsyncClient, test_case_id: str
) -> None:
    response = await client.get(f"{API}/{test_case_id}")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "test_case_id"]


async def test_get_leaves_out_a_suite_that_was_deleted(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    kept, dropped = await create_suite(), await create_suite()
    case = await create_case(
        suite_links=[{"suite_id": kept["id"]}, {"suite_id": dropped["id"]}],
    )
    assert {s["id"] for s in case["suites"]} == {kept["id"], dropped["id"]}
    assert (await client.delete(f"/api/v1/suites/{dropped['id']}")).status_code == 204

    response = await client.get(f"{API}/{case['id']}")

    assert [s["id"] for s in response.json()["suites"]] == [kept["id"]]


async def test_get_echoes_the_request_id(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    case = await create_case()
    request_id = unique("req-get")

    response = await client.get(f"{API}/{case['id']}", headers={"X-Request-ID": request_id})

    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
