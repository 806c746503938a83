"""DELETE /runs/{id}: a soft delete; the run leaves the listing and its results' history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from tests.results.allure_data import result_file_named
from tests.results.results_api import (
    API,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
    every_item,
)

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647


async def test_delete_answers_204_and_the_run_is_gone_from_get_and_the_listing(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])

    response = await client.delete(f"{API}/runs/{run['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(f"{API}/runs/{run['id']}"), 404, "run_not_found")
    listed = await every_item(client, f"{API}/runs", name=run["name"])
    assert listed == []


async def test_delete_keeps_the_run_for_the_deleted_listing_with_when_it_was_deleted(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])

    await client.delete(f"{API}/runs/{run['id']}")

    [deleted] = await every_item(client, f"{API}/runs", name=run["name"], deleted="only")
    assert deleted["id"] == run["id"]
    assert deleted["is_deleted"] is True
    assert datetime.fromisoformat(deleted["deleted_at"]) >= datetime.fromisoformat(
        run["created_at"]
    )
    assert deleted["stats"] == run["stats"]


async def test_delete_of_an_unknown_run_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{API}/runs/{UNKNOWN_ID}")

    assert_problem(response, 404, "run_not_found")


async def test_delete_takes_the_run_out_of_its_tests_history(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])
    [result] = (await client.get(f"{API}/runs/{run['id']}/results")).json()["items"]
    history = f"{API}/tests/{result['history_id']}/history"
    assert run["id"] in {item["run_id"] for item in await every_item(client, history)}

    await client.delete(f"{API}/runs/{run['id']}")

    assert run["id"] not in {item["run_id"] for item in await every_item(client, history)}


# --- projects


async def test_delete_of_another_project_s_run_is_not_found_and_deletes_nothing(
    new_project: NewProject, allure_results: Path
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload([result_file_named(allure_results, "test_pays_with_card")])

    hidden = await ours.client.delete(f"{ours.api}/runs/{theirs_run['id']}")

    missing = await ours.client.delete(f"{ours.api}/runs/{UNKNOWN_ID}")
    assert_hidden_as_missing(hidden, missing)
    assert (await theirs.get(f"/runs/{theirs_run['id']}")).json() == theirs_run
