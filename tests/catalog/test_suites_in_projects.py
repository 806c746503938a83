"""/suites in projects: a project's suites are its own. Another project's suite is 404 as a
missing one, no listing or tree shows one, names are unique among the siblings of one project,
and a parent is always a suite of the same project.

``alpha`` and ``beta`` act in two new projects, in one path form or the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.catalog.conftest import created

from testops_kit.testing import assert_problem

JSON = dict[str, Any]
Unique = Callable[[str], str]
UNKNOWN_ID = 2_147_483_647


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    """The ids of every suite the listing shows with ``params``, following every cursor."""
    found: list[int] = []
    cursor = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/suites", params=page_params)
        assert response.status_code == 200, response.text
        found += [suite["id"] for suite in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def tree_of(client: httpx.AsyncClient, unique: Unique, name: str) -> list[JSON]:
    """A root suite ``name`` with two children and a grandchild; the four suites, root first."""
    root = await created(client, "/suites", {"name": name})
    first = await created(client, "/suites", {"name": unique("child"), "parent_id": root["id"]})
    second = await created(client, "/suites", {"name": unique("child"), "parent_id": root["id"]})
    grandchild = await created(
        client, "/suites", {"name": unique("grandchild"), "parent_id": first["id"]}
    )
    return [root, first, second, grandchild]


async def test_a_suite_of_another_project_is_404_on_every_route_as_a_missing_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    suite = await created(alpha, "/suites", {"name": unique("suite")})
    path = f"/suites/{suite['id']}"

    answers = [
        await beta.get(path),
        await beta.get(f"{path}/tree"),
        await beta.patch(path, json={"name": unique("taken over")}),
        await beta.patch(path, json={"parent_id": None}),
        await beta.delete(path),
    ]
    missing = await beta.get(f"/suites/{UNKNOWN_ID}")

    for answer in answers:
        assert_problem(answer, 404, "suite_not_found")
        assert answer.json()["detail"] == missing.json()["detail"].replace(
            str(UNKNOWN_ID), str(suite["id"])
        )
    after = await alpha.get(path)
    assert after.status_code == 200, after.text
    assert after.json() == suite


@pytest.mark.parametrize(
    "params", [{}, {"root": "true"}, {"limit": 1}, {"limit": 2, "root": "true"}]
)
async def test_a_listing_shows_only_the_projects_own_suites_whatever_the_filters_and_cursors(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique, params: JSON
) -> None:
    name = unique("Shop")
    alpha_suites = await tree_of(alpha, unique, name)
    beta_suites = await tree_of(beta, unique, name)
    expected = [beta_suites[0]] if params.get("root") else beta_suites

    seen = await listed_ids(beta, **params)
    searched = await listed_ids(beta, **params, q=name)

    assert set(seen) == {suite["id"] for suite in expected}
    assert set(searched) == {beta_suites[0]["id"]}
    assert not set(seen) & {suite["id"] for suite in alpha_suites}


async def test_the_children_of_another_projects_suite_are_not_listed(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    alpha_suites = await tree_of(alpha, unique, unique("Shop"))

    assert await listed_ids(beta, parent_id=alpha_suites[0]["id"]) == []
    assert set(await listed_ids(alpha, parent_id=alpha_suites[0]["id"])) == {
        alpha_suites[1]["id"],
        alpha_suites[2]["id"],
    }


async def test_a_tree_holds_the_projects_own_suites_only(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("Shop")
    alpha_suites = await tree_of(alpha, unique, name)
    await tree_of(beta, unique, name)

    tree = (await alpha.get(f"/suites/{alpha_suites[0]['id']}/tree")).json()

    def ids(node: JSON) -> set[int]:
        return {node["id"]}.union(*(ids(child) for child in node["children"]))

    assert ids(tree) == {suite["id"] for suite in alpha_suites}


async def test_the_same_root_suite_name_is_active_in_each_of_two_projects(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("API Suite")

    first = await alpha.post("/suites", json={"name": name})
    second = await beta.post("/suites", json={"name": name})
    again = await beta.post("/suites", json={"name": name})

    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert_problem(again, 409, "suite_name_conflict")


async def test_a_suite_may_be_renamed_to_a_root_name_of_another_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("API Suite")
    await created(alpha, "/suites", {"name": name})
    suite = await created(beta, "/suites", {"name": unique("draft")})

    renamed = await beta.patch(f"/suites/{suite['id']}", json={"name": name})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == name


async def test_deleting_a_suite_frees_its_children_to_a_root_whose_names_another_project_uses(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("API")
    await created(alpha, "/suites", {"name": name})
    parent = await created(beta, "/suites", {"name": unique("parent")})
    child = await created(beta, "/suites", {"name": name, "parent_id": parent["id"]})

    deleted = await beta.delete(f"/suites/{parent['id']}")

    assert deleted.status_code == 204, deleted.text
    assert (await beta.get(f"/suites/{child['id']}")).json()["parent_id"] is None


async def test_a_parent_of_another_project_is_422_as_an_unknown_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    foreign = await created(alpha, "/suites", {"name": unique("parent")})
    suite = await created(beta, "/suites", {"name": unique("suite")})

    made = await beta.post("/suites", json={"name": unique("child"), "parent_id": foreign["id"]})
    moved = await beta.patch(f"/suites/{suite['id']}", json={"parent_id": foreign["id"]})

    for answer in (made, moved):
        body = assert_problem(answer, 422, "parent_suite_not_found")
        assert body["errors"][0]["loc"] == ["body", "parent_id"]
    assert (await beta.get(f"/suites/{suite['id']}")).json()["parent_id"] is None
    assert await listed_ids(alpha, parent_id=foreign["id"]) == []


async def test_a_suite_cannot_be_moved_under_itself_through_another_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    """Neither a suite of the project nor one of another is a way around the cycle check."""
    suite = await created(beta, "/suites", {"name": unique("suite")})
    child = await created(beta, "/suites", {"name": unique("child"), "parent_id": suite["id"]})

    cycle = await beta.patch(f"/suites/{suite['id']}", json={"parent_id": child["id"]})
    from_outside = await alpha.patch(f"/suites/{suite['id']}", json={"parent_id": child["id"]})

    assert_problem(cycle, 409, "suite_cycle")
    assert_problem(from_outside, 404, "suite_not_found")


async def test_create_answers_the_location_in_the_path_form_it_was_asked_in(
    alpha: httpx.AsyncClient, unique: Unique
) -> None:
    response = await alpha.post("/suites", json={"name": unique("suite")})

    assert response.status_code == 201, response.text
    root = alpha.base_url.raw_path.decode().rstrip("/")
    assert response.headers["Location"] == f"{root}/suites/{response.json()['id']}"
    again = await alpha.get(f"http://testserver{response.headers['Location']}")
    assert again.json() == response.json()
