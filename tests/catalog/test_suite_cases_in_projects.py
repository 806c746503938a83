"""/suites/{id}/cases in projects: a suite's members are cases of its own project. Another
project's suite is 404 on every membership route, and another project's case is as unknown as a
missing one, whether added, set or asked for.

``alpha`` and ``beta`` act in two new projects, in one path form or the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tests.catalog.conftest import created

from testops_kit.testing import assert_problem

JSON = dict[str, Any]
Unique = Callable[[str], str]


async def suite_with_case(client: httpx.AsyncClient, unique: Unique) -> tuple[JSON, JSON]:
    suite = await created(client, "/suites", {"name": unique("suite")})
    case = await created(client, "/test-cases", {"name": unique("case")})
    await created(client, f"/suites/{suite['id']}/cases", {"test_case_id": case["id"]})
    return suite, case


async def members(client: httpx.AsyncClient, suite_id: int) -> list[int]:
    response = await client.get(f"/suites/{suite_id}/cases", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [item["test_case_id"] for item in response.json()["items"]]


async def test_the_members_of_another_projects_suite_are_404_on_every_route(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    suite, case = await suite_with_case(alpha, unique)
    own_case = await created(beta, "/test-cases", {"name": unique("case")})
    path = f"/suites/{suite['id']}/cases"

    answers = [
        await beta.get(path),
        await beta.get(f"{path}/{case['id']}"),
        await beta.post(path, json={"test_case_id": own_case["id"]}),
        await beta.put(path, json={"test_case_ids": [own_case["id"]]}),
        await beta.put(path, json={"test_case_ids": []}),
        await beta.delete(f"{path}/{case['id']}"),
    ]

    for answer in answers:
        assert_problem(answer, 404, "suite_not_found")
    assert await members(alpha, suite["id"]) == [case["id"]]


async def test_adding_a_case_of_another_project_is_422_as_an_unknown_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    foreign = await created(alpha, "/test-cases", {"name": unique("case")})
    suite, case = await suite_with_case(beta, unique)
    path = f"/suites/{suite['id']}/cases"

    added = await beta.post(path, json={"test_case_id": foreign["id"]})
    set_whole = await beta.put(path, json={"test_case_ids": [case["id"], foreign["id"]]})

    body = assert_problem(added, 422, "test_case_not_found")
    assert body["errors"][0]["loc"] == ["body", "test_case_id"]
    body = assert_problem(set_whole, 422, "test_case_not_found")
    assert body["errors"][0]["loc"] == ["body", "test_case_ids", 1]
    assert await members(beta, suite["id"]) == [case["id"]]
    assert (await alpha.get(f"/test-cases/{foreign['id']}")).json()["suites"] == []


async def test_a_case_of_another_project_is_never_a_member(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    _, foreign = await suite_with_case(alpha, unique)
    suite, _ = await suite_with_case(beta, unique)
    path = f"/suites/{suite['id']}/cases/{foreign['id']}"

    assert_problem(await beta.get(path), 404, "suite_case_not_found")
    assert_problem(await beta.delete(path), 404, "suite_case_not_found")


async def test_a_suites_case_count_and_members_are_of_its_project_alone(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    alpha_suite, alpha_case = await suite_with_case(alpha, unique)
    beta_suite, beta_case = await suite_with_case(beta, unique)

    assert await members(alpha, alpha_suite["id"]) == [alpha_case["id"]]
    assert await members(beta, beta_suite["id"]) == [beta_case["id"]]
    assert (await beta.get(f"/suites/{beta_suite['id']}")).json()["case_count"] == 1


async def test_add_answers_the_location_in_the_path_form_it_was_asked_in(
    alpha: httpx.AsyncClient, unique: Unique
) -> None:
    suite = await created(alpha, "/suites", {"name": unique("suite")})
    case = await created(alpha, "/test-cases", {"name": unique("case")})

    response = await alpha.post(f"/suites/{suite['id']}/cases", json={"test_case_id": case["id"]})

    assert response.status_code == 201, response.text
    root = alpha.base_url.raw_path.decode().rstrip("/")
    assert response.headers["Location"] == f"{root}/suites/{suite['id']}/cases/{case['id']}"
    again = await alpha.get(f"http://testserver{response.headers['Location']}")
    assert again.json() == response.json()
