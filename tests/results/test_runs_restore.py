"""POST /runs/{id}/restore: a deleted run comes back as it was."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.results.allure_data import result_file_named
from tests.results.results_api import (
    API,
    JSON,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
    every_item,
    folder_files,
)

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647


def as_before(run: JSON) -> JSON:
    """The run without ``updated_at``, which a delete and a restore move on."""
    return {key: value for key, value in run.items() if key != "updated_at"}


async def test_restore_answers_200_with_the_run_no_longer_deleted(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])
    await client.delete(f"{API}/runs/{run['id']}")

    response = await client.post(f"{API}/runs/{run['id']}/restore")

    assert response.status_code == 200, response.text
    restored = response.json()
    assert restored["is_deleted"] is False
    assert restored["deleted_at"] is None
    assert as_before(restored) == as_before(run)


async def test_restore_brings_the_run_back_to_get_and_the_listing(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])
    await client.delete(f"{API}/runs/{run['id']}")

    await client.post(f"{API}/runs/{run['id']}/restore")

    fetched = await client.get(f"{API}/runs/{run['id']}")
    assert fetched.status_code == 200, fetched.text
    assert as_before(fetched.json()) == as_before(run)
    assert [r["id"] for r in await every_item(client, f"{API}/runs", name=run["name"])] == [
        run["id"]
    ]
    assert await every_item(client, f"{API}/runs", name=run["name"], deleted="only") == []


async def test_restore_brings_the_results_and_attachments_back(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(folder_files(allure_results))
    results_before = await every_item(client, f"{API}/runs/{run['id']}/results")
    attachments_before = await every_item(client, f"{API}/runs/{run['id']}/attachments")
    await client.delete(f"{API}/runs/{run['id']}")

    await client.post(f"{API}/runs/{run['id']}/restore")

    assert await every_item(client, f"{API}/runs/{run['id']}/results") == results_before
    assert await every_item(client, f"{API}/runs/{run['id']}/attachments") == attachments_before


async def test_restore_of_an_unknown_run_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/runs/{UNKNOWN_ID}/restore")

    assert_problem(response, 404, "run_not_found")


# --- projects


async def test_restore_of_another_project_s_deleted_run_is_not_found_and_leaves_it_deleted(
    new_project: NewProject, allure_results: Path
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload([result_file_named(allure_results, "test_pays_with_card")])
    await theirs.client.delete(f"{theirs.api}/runs/{theirs_run['id']}")

    hidden = await ours.client.post(f"{ours.api}/runs/{theirs_run['id']}/restore")

    missing = await ours.client.post(f"{ours.api}/runs/{UNKNOWN_ID}/restore")
    assert_hidden_as_missing(hidden, missing)
    [still] = await theirs.every("/runs", deleted="only")
    assert still["id"] == theirs_run["id"]


async def test_restore_answers_in_the_project_it_is_asked_in(
    new_project: NewProject, allure_results: Path
) -> None:
    ours = new_project()
    run = await ours.upload([result_file_named(allure_results, "test_pays_with_card")])
    await ours.client.delete(f"{ours.api}/runs/{run['id']}")

    response = await ours.client.post(f"{ours.api}/runs/{run['id']}/restore")

    assert response.status_code == 200, response.text
    assert [r["id"] for r in await ours.every("/runs")] == [run["id"]]
