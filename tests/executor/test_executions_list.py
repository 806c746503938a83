"""GET /executions (history, newest first, by status, paginated) and GET /executions/{id}: a
project's own executions only."""

from __future__ import annotations

import uuid

import httpx
from tests.executor.executor_api import API, run_to_end, scoped
from tests.executor.repositories import Repos

from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.testing import assert_problem


async def test_history_is_newest_first_and_filtered_by_status(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    failed = await run_to_end(client, repos.no_python)
    completed = await run_to_end(client, repos.no_tests)
    failed_again = await run_to_end(client, repos.no_python)

    everything = await client.get(f"{API}/executions")
    only_failed = await client.get(f"{API}/executions", params={"status": "failed"})
    either = await client.get(
        f"{API}/executions", params=[("status", "completed"), ("status", "failed")]
    )
    none = await client.get(f"{API}/executions", params={"status": "pending"})

    newest_first = [failed_again["id"], completed["id"], failed["id"]]
    assert [e["id"] for e in everything.json()["items"]] == newest_first
    assert everything.json()["next_cursor"] is None
    assert [e["id"] for e in only_failed.json()["items"]] == [failed_again["id"], failed["id"]]
    assert [e["id"] for e in either.json()["items"]] == newest_first
    assert none.json() == {"items": [], "next_cursor": None}


async def test_history_pages_follow_the_cursor(client: httpx.AsyncClient, repos: Repos) -> None:
    ids = [(await run_to_end(client, repos.no_python))["id"] for _ in range(3)]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/executions", params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ids[::-1]


async def test_an_unknown_status_filter_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/executions", params={"status": "exploded"})

    assert_problem(response, 422, "validation_error")


async def test_a_bad_cursor_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/executions", params={"cursor": "not-a-cursor"})

    assert response.status_code == 422, response.text


async def test_get_of_an_unknown_execution_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/executions/{uuid.uuid4()}")

    assert_problem(response, 404, "execution_not_found")


async def test_history_lists_only_the_executions_of_the_requests_project(
    client: httpx.AsyncClient, shop: httpx.AsyncClient, shop_root: str, repos: Repos
) -> None:
    default_one = await run_to_end(client, repos.no_python)
    shop_one = await run_to_end(shop, repos.no_python, root=shop_root)

    shop_history = await shop.get(f"{shop_root}/executions")
    default_history = await client.get(f"{API}/executions")
    default_scoped = await client.get(f"{scoped(DEFAULT_PROJECT)}/executions")

    assert shop_history.status_code == 200, shop_history.text
    assert [e["id"] for e in shop_history.json()["items"]] == [shop_one["id"]]
    assert [e["id"] for e in default_history.json()["items"]] == [default_one["id"]]
    assert default_scoped.json() == default_history.json()


async def test_an_execution_of_another_project_is_not_found(
    client: httpx.AsyncClient, shop: httpx.AsyncClient, shop_root: str, repos: Repos
) -> None:
    shop_one = await run_to_end(shop, repos.no_python, root=shop_root)

    unscoped = await client.get(f"{API}/executions/{shop_one['id']}")
    default_scoped = await client.get(f"{scoped(DEFAULT_PROJECT)}/executions/{shop_one['id']}")

    assert_problem(unscoped, 404, "execution_not_found")
    assert_problem(default_scoped, 404, "execution_not_found")
    assert (await shop.get(f"{shop_root}/executions/{shop_one['id']}")).status_code == 200
