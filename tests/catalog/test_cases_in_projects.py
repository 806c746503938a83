"""/test-cases in projects: a project's cases are its own. Another project's case is 404 as a
missing one on every route, no listing shows one whatever its filters and cursor, names are
unique per project, and the tags and suites a case names are the case's project's.

``alpha`` and ``beta`` act in two new projects, in one path form or the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs
from tests.catalog.conftest import created

from testops_kit.testing import assert_problem

JSON = dict[str, Any]
Unique = Callable[[str], str]
UNKNOWN_ID = 2_147_483_647


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    """The ids of every case the listing shows with ``params``, following every cursor."""
    found: list[int] = []
    cursor = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/test-cases", params=page_params)
        assert response.status_code == 200, response.text
        found += [case["id"] for case in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def two_projects_alike(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> tuple[list[JSON], list[JSON], JSON]:
    """The same three cases (names, tags, a root suite) in each project, the last one deleted;
    the cases of each and the names they share."""
    shared = {
        "word": unique("word"),
        "tag": unique("tag"),
        "suite": unique("suite"),
    }
    made: dict[str, list[JSON]] = {"alpha": [], "beta": []}
    for label, client in (("alpha", alpha), ("beta", beta)):
        for n in range(3):
            case = await created(
                client,
                "/test-cases",
                {
                    "name": f"{shared['word']} case {n}",
                    "description": f"mentions {shared['word']}",
                    "tags": [shared["tag"]],
                    "suite_links": [{"suite_name": shared["suite"]}],
                },
            )
            made[label].append(case)
        deleted = await client.delete(f"/test-cases/{made[label][-1]['id']}")
        assert deleted.status_code == 204, deleted.text
    return made["alpha"], made["beta"], shared


async def test_a_case_of_another_project_is_404_on_every_route_as_a_missing_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    case = await created(alpha, "/test-cases", {"name": unique("case")})
    path = f"/test-cases/{case['id']}"
    body = {"name": unique("taken over")}

    answers = [
        await beta.get(path),
        await beta.head(path),
        await beta.put(path, json=body),
        await beta.patch(path, json=body),
        await beta.delete(path),
        await beta.post(f"{path}/restore"),
    ]
    missing = await beta.get(f"/test-cases/{UNKNOWN_ID}")

    for answer in answers:
        assert answer.status_code == 404, answer.text
        if answer.request.method != "HEAD":
            assert_problem(answer, 404, "test_case_not_found")
            assert answer.json()["detail"] == missing.json()["detail"].replace(
                str(UNKNOWN_ID), str(case["id"])
            )
    after = await alpha.get(path)
    assert after.status_code == 200, after.text
    assert after.json() == case


async def test_a_deleted_case_of_another_project_cannot_be_restored_or_listed(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    case = await created(alpha, "/test-cases", {"name": unique("case")})
    assert (await alpha.delete(f"/test-cases/{case['id']}")).status_code == 204

    restored = await beta.post(f"/test-cases/{case['id']}/restore")

    assert_problem(restored, 404, "test_case_not_found")
    assert await listed_ids(beta, deleted="include") == []
    assert await listed_ids(alpha, deleted="only") == [case["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"deleted": "only"},
        {"deleted": "include"},
        {"updated_since": "2000-01-01T00:00:00Z"},
        {"sort": "-id"},
        {"sort": "name"},
        {"sort": "-updated_at"},
        {"limit": 1},
        {"limit": 1, "sort": "name", "deleted": "include"},
    ],
)
async def test_a_listing_shows_only_the_projects_own_cases_whatever_the_filters_and_cursors(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique, params: JSON
) -> None:
    alpha_cases, beta_cases, shared = await two_projects_alike(alpha, beta, unique)
    alpha_ids = {case["id"] for case in alpha_cases}
    beta_ids = {case["id"] for case in beta_cases}
    active = {case["id"] for case in beta_cases[:2]}
    by_deleted = {"exclude": active, "only": beta_ids - active, "include": beta_ids}
    expected = by_deleted[params.get("deleted", "exclude")]

    seen = await listed_ids(beta, **params)
    searched = await listed_ids(beta, **params, q=shared["word"])
    tagged = await listed_ids(beta, **params, tag=shared["tag"])

    for found in (seen, searched, tagged):
        assert set(found) == expected
        assert not set(found) & alpha_ids


async def test_a_listing_filtered_by_another_projects_suite_is_empty(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    alpha_cases, _, _ = await two_projects_alike(alpha, beta, unique)
    alpha_suite_id = alpha_cases[0]["suites"][0]["id"]

    assert await listed_ids(beta, suite_id=alpha_suite_id) == []
    assert await listed_ids(beta, suite_id=alpha_suite_id, deleted="include") == []
    assert set(await listed_ids(alpha, suite_id=alpha_suite_id)) == {
        case["id"] for case in alpha_cases[:2]
    }


async def test_a_cursor_of_another_projects_listing_pages_only_through_this_projects_cases(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    alpha_cases, beta_cases, _ = await two_projects_alike(alpha, beta, unique)
    first = await alpha.get("/test-cases", params={"limit": 1, "deleted": "include"})
    cursor = first.json()["next_cursor"]

    page = await beta.get(
        "/test-cases", params={"limit": 500, "deleted": "include", "cursor": cursor}
    )

    assert page.status_code == 200, page.text
    shown = {case["id"] for case in page.json()["items"]}
    assert shown <= {case["id"] for case in beta_cases}
    assert not shown & {case["id"] for case in alpha_cases}


async def test_the_same_name_is_an_active_case_in_each_of_two_projects(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("Login works")

    first = await alpha.post("/test-cases", json={"name": name})
    second = await beta.post("/test-cases", json={"name": name})
    again = await alpha.post("/test-cases", json={"name": name})

    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert_problem(again, 409, "test_case_name_conflict")


async def test_a_rename_may_take_a_name_active_in_another_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("Checkout")
    await created(alpha, "/test-cases", {"name": name})
    draft = await created(beta, "/test-cases", {"name": unique("draft")})

    patched = await beta.patch(f"/test-cases/{draft['id']}", json={"name": name})

    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == name


async def test_a_restore_may_take_back_a_name_active_in_another_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("Checkout")
    old = await created(beta, "/test-cases", {"name": name})
    assert (await beta.delete(f"/test-cases/{old['id']}")).status_code == 204
    await created(alpha, "/test-cases", {"name": name})

    restored = await beta.post(f"/test-cases/{old['id']}/restore")

    assert restored.status_code == 200, restored.text
    assert restored.json()["is_deleted"] is False


async def test_a_tag_named_on_a_case_is_found_or_made_in_the_cases_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("smoke")
    alpha_case = await created(alpha, "/test-cases", {"name": unique("case"), "tags": [name]})
    beta_case = await created(
        beta, "/test-cases", {"name": unique("case"), "tags": [{"name": name}]}
    )

    (alpha_tag,) = alpha_case["tags"]
    (beta_tag,) = beta_case["tags"]
    assert alpha_tag["name"] == beta_tag["name"] == name
    assert alpha_tag["id"] != beta_tag["id"]
    for client, tag in ((alpha, alpha_tag), (beta, beta_tag)):
        listed = (await client.get("/tags", params={"q": name})).json()["items"]
        assert listed == [{"id": tag["id"], "name": name, "case_count": 1}]


async def test_a_tag_id_of_another_project_is_skipped_as_an_unknown_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    tag = await created(alpha, "/tags", {"name": unique("tag")})

    with capture_logs() as logs:
        case = await created(
            beta, "/test-cases", {"name": unique("case"), "tags": [{"id": tag["id"]}]}
        )
    replaced = await beta.put(
        f"/test-cases/{case['id']}", json={"name": case["name"], "tags": [{"id": tag["id"]}]}
    )

    assert case["tags"] == []
    assert replaced.json()["tags"] == []
    assert [e["tag_id"] for e in logs if e["event"] == "tag_not_found_skipped"] == [tag["id"]]
    assert (await alpha.get(f"/tags/{tag['id']}")).json()["case_count"] == 0


async def test_a_suite_named_on_a_case_is_a_root_suite_of_the_cases_project(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("API Suite")
    alpha_suite = await created(alpha, "/suites", {"name": name})

    case = await created(
        beta, "/test-cases", {"name": unique("case"), "suite_links": [{"suite_name": name}]}
    )

    (link,) = case["suites"]
    assert link["name"] == name
    assert link["id"] != alpha_suite["id"]
    assert (await alpha.get(f"/suites/{alpha_suite['id']}")).json()["case_count"] == 0
    assert (await beta.get(f"/suites/{link['id']}")).json()["case_count"] == 1


async def test_a_suite_id_of_another_project_is_skipped_as_an_unknown_one(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, unique: Unique
) -> None:
    suite = await created(alpha, "/suites", {"name": unique("suite")})

    with capture_logs() as logs:
        case = await created(
            beta,
            "/test-cases",
            {"name": unique("case"), "suite_links": [{"suite_id": suite["id"], "position": 1}]},
        )
        patched = await beta.patch(
            f"/test-cases/{case['id']}", json={"suites": [{"id": suite["id"]}]}
        )

    assert case["suites"] == []
    assert patched.status_code == 200, patched.text
    assert patched.json()["suites"] == []
    skipped = [e["suite_id"] for e in logs if e["event"] == "suite_not_found_skipped"]
    assert skipped == [suite["id"], suite["id"]]
    members = await alpha.get(f"/suites/{suite['id']}/cases")
    assert members.json()["items"] == []


async def test_create_answers_the_location_in_the_path_form_it_was_asked_in(
    alpha: httpx.AsyncClient, unique: Unique
) -> None:
    response = await alpha.post("/test-cases", json={"name": unique("case")})

    assert response.status_code == 201, response.text
    root = alpha.base_url.raw_path.decode().rstrip("/")
    assert response.headers["Location"] == f"{root}/test-cases/{response.json()['id']}"
    again = await alpha.get(f"http://testserver{response.headers['Location']}")
    assert again.json() == response.json()
