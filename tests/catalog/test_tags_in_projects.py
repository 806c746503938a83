"""/tags in projects: a project's tags are its own. Another project's tag is 404 as a missing
one, no listing shows one, and tag names are unique per project.

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


async def listed(client: httpx.AsyncClient, **params: Any) -> list[JSON]:
    """Every tag the listing shows with ``params``, following every cursor."""
    found: list[JSON] = []
    cursor = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/tags", params=page_params)
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def test_a_tag_of_another_project_is_404_on_every_route_as_a_missing_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    tag = await created(alpha, "/tags", {"name": unique("tag")})
    path = f"/tags/{tag['id']}"

    answers = [
        await beta.get(path),
        await beta.patch(path, json={"name": unique("taken over")}),
        await beta.delete(path),
    ]
    missing = await beta.get(f"/tags/{UNKNOWN_ID}")

    for answer in answers:
        assert_problem(answer, 404, "tag_not_found")
        assert answer.json()["detail"] == missing.json()["detail"].replace(
            str(UNKNOWN_ID), str(tag["id"])
        )
    assert (await alpha.get(path)).json() == tag


@pytest.mark.parametrize("params", [{}, {"limit": 1}, {"limit": 2}])
async def test_a_listing_shows_only_the_projects_own_tags_whatever_the_filters_and_cursors(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique, params: JSON
) -> None:
    names = [unique("smoke"), unique("slow"), unique("api")]
    alpha_tags = [await created(alpha, "/tags", {"name": name}) for name in names]
    beta_tags = [await created(beta, "/tags", {"name": name}) for name in names]

    seen = await listed(beta, **params)
    searched = await listed(beta, **params, q=names[0])

    assert sorted(tag["id"] for tag in seen) == sorted(tag["id"] for tag in beta_tags)
    assert [tag["id"] for tag in searched] == [beta_tags[0]["id"]]
    assert not {tag["id"] for tag in seen} & {tag["id"] for tag in alpha_tags}


async def test_a_tags_case_count_counts_its_projects_cases_alone(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("smoke")
    for _ in range(2):
        await created(alpha, "/test-cases", {"name": unique("case"), "tags": [name]})
    await created(beta, "/test-cases", {"name": unique("case"), "tags": [name]})

    assert [tag["case_count"] for tag in await listed(alpha, q=name)] == [2]
    assert [tag["case_count"] for tag in await listed(beta, q=name)] == [1]


async def test_the_same_tag_name_is_a_tag_in_each_of_two_projects(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("smoke")

    first = await alpha.post("/tags", json={"name": name})
    second = await beta.post("/tags", json={"name": name})
    again = await beta.post("/tags", json={"name": name})

    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert_problem(again, 409, "tag_name_conflict")


async def test_a_tag_may_be_renamed_to_a_name_of_another_projects_tag(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("smoke")
    await created(alpha, "/tags", {"name": name})
    tag = await created(beta, "/tags", {"name": unique("draft")})

    renamed = await beta.patch(f"/tags/{tag['id']}", json={"name": name})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == name


async def test_deleting_a_tag_leaves_the_tag_of_that_name_in_another_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("smoke")
    alpha_case = await created(alpha, "/test-cases", {"name": unique("case"), "tags": [name]})
    beta_case = await created(beta, "/test-cases", {"name": unique("case"), "tags": [name]})

    deleted = await beta.delete(f"/tags/{beta_case['tags'][0]['id']}")

    assert deleted.status_code == 204, deleted.text
    assert (await alpha.get(f"/test-cases/{alpha_case['id']}")).json()["tags"] == alpha_case["tags"]
    assert (await beta.get(f"/test-cases/{beta_case['id']}")).json()["tags"] == []


async def test_create_answers_the_location_in_the_path_form_it_was_asked_in(
    alpha: httpx.AsyncClient, unique: Unique
) -> None:
    response = await alpha.post("/tags", json={"name": unique("tag")})

    assert response.status_code == 201, response.text
    root = alpha.base_url.raw_path.decode().rstrip("/")
    assert response.headers["Location"] == f"{root}/tags/{response.json()['id']}"
    again = await alpha.get(f"http://testserver{response.headers['Location']}")
    assert again.json() == response.json()
