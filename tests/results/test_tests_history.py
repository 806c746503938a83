"""GET /tests/{history_id}/history: one test's counted results across runs, newest first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from tests.results.allure_data import history_id, results_named
from tests.results.results_api import (
    API,
    JSON,
    CreateRun,
    NewProject,
    every_item,
    folder_files,
    new_run_name,
)


async def history(client: httpx.AsyncClient, test_history_id: str, **params: str) -> list[JSON]:
    return await every_item(client, f"{API}/tests/{test_history_id}/history", **params)


async def two_runs(
    create_run: CreateRun, allure_results: Path, another_allure_results: Path
) -> tuple[JSON, JSON]:
    older = await create_run(folder_files(allure_results))
    newer = await create_run(folder_files(another_allure_results))
    return older, newer


async def test_history_answers_the_test_in_each_run_newest_first(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    another_allure_results: Path,
) -> None:
    older, newer = await two_runs(create_run, allure_results, another_allure_results)
    [first] = results_named(allure_results, "test_pays_with_card")
    [second] = results_named(another_allure_results, "test_pays_with_card")
    assert history_id(first) == history_id(second)

    items = await history(client, history_id(first))

    assert [(i["run_id"], i["uuid"]) for i in items[:2]] == [
        (newer["id"], second["uuid"]),
        (older["id"], first["uuid"]),
    ]
    assert items[0]["run_name"] == newer["name"]
    assert items[0]["created_at"] == newer["created_at"]
    assert items[0]["history_id"] == history_id(first)
    assert items[0]["status"] == "passed"
    moments = [datetime.fromisoformat(item["created_at"]) for item in items]
    assert moments == sorted(moments, reverse=True)


async def test_history_leaves_out_retries(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    another_allure_results: Path,
) -> None:
    older, newer = await two_runs(create_run, allure_results, another_allure_results)
    flaky = results_named(allure_results, "test_flaky_passes_on_second_try")

    items = await history(client, history_id(flaky[-1]))

    mine = [item for item in items if item["run_id"] in (older["id"], newer["id"])]
    assert [(item["run_id"], item["status"], item["is_retry"]) for item in mine] == [
        (newer["id"], "passed", False),
        (older["id"], "passed", False),
    ]
    assert all(item["is_retry"] is False for item in items)


async def test_history_of_a_parametrized_test_ignores_excluded_parameters(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    another_allure_results: Path,
) -> None:
    """Each run gave ``session`` a new value, excluded from the id: one test, two runs."""
    older, newer = await two_runs(create_run, allure_results, another_allure_results)
    [first] = results_named(allure_results, "test_discount[10]")
    [second] = results_named(another_allure_results, "test_discount[10]")

    items = await history(client, history_id(first))

    assert [(i["run_id"], i["uuid"]) for i in items[:2]] == [
        (newer["id"], second["uuid"]),
        (older["id"], first["uuid"]),
    ]
    assert {item["name"] for item in items} == {"test_discount[10]"}


async def test_history_pages_follow_the_cursor_newest_first(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    another_allure_results: Path,
) -> None:
    await two_runs(create_run, allure_results, another_allure_results)
    [result] = results_named(allure_results, "test_gateway_is_down")

    paged = await history(client, history_id(result), limit="1")

    assert paged == await history(client, history_id(result))
    assert len(paged) >= 2


async def test_history_of_a_test_no_run_has_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/tests/{'0' * 32}.{'0' * 32}/history")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [],
        "next_cursor": None,
        "flakiness": {"flaky": False, "flips": 0, "window": 0, "passed_on_retry": 0},
    }


async def flakiness_of(
    client: httpx.AsyncClient, folder: Path, test_name: str, **params: str
) -> JSON:
    result = results_named(folder, test_name)[-1]
    response = await client.get(f"{API}/tests/{history_id(result)}/history", params=params)
    assert response.status_code == 200, response.text
    flakiness: JSON = response.json()["flakiness"]
    return flakiness


async def test_history_reports_a_flip_between_its_results(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    await create_run(folder_files(flips_failing))
    await create_run(folder_files(flips_passing))

    # The page of the newest two: these two runs, whatever other tests uploaded before.
    flakiness = await flakiness_of(client, flips_passing, "test_flips", limit="2")

    assert flakiness == {"flaky": True, "flips": 1, "window": 2, "passed_on_retry": 0}


async def test_history_reports_passes_on_retry(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    await create_run(folder_files(flips_failing))
    await create_run(folder_files(flips_passing))

    flakiness = await flakiness_of(client, flips_passing, "test_passes_on_rerun", limit="2")

    assert flakiness == {"flaky": True, "flips": 0, "window": 2, "passed_on_retry": 2}


async def test_history_of_a_stable_test_is_not_flaky(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    await create_run(folder_files(flips_failing))
    await create_run(folder_files(flips_passing))

    for name in ("test_stable", "test_totals"):
        flakiness = await flakiness_of(client, flips_passing, name, limit="2")
        assert flakiness == {"flaky": False, "flips": 0, "window": 2, "passed_on_retry": 0}


# --- projects


async def test_history_takes_the_runs_of_its_project_only_for_the_same_tests_and_run_name(
    new_project: NewProject, flips_failing: Path, flips_passing: Path
) -> None:
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    mine, their = [], []
    for _ in range(2):  # interleaved, one name: a history that mixed them would flip
        mine.append(await ours.upload(folder_files(flips_failing), run_name=name))
        their.append(await theirs.upload(folder_files(flips_passing), run_name=name))
    test_id = history_id(results_named(flips_passing, "test_flips")[-1])
    assert test_id == history_id(results_named(flips_failing, "test_flips")[-1])

    for project, runs, status in ((ours, mine, "failed"), (theirs, their, "passed")):
        items = await project.every(f"/tests/{test_id}/history", limit=1)
        assert [(i["run_id"], i["status"]) for i in items] == [
            (run["id"], status) for run in reversed(runs)
        ]
        page = (await project.get(f"/tests/{test_id}/history")).json()
        assert page["flakiness"] == {"flaky": False, "flips": 0, "window": 2, "passed_on_retry": 0}


async def test_history_of_a_test_only_another_project_has_is_empty(
    new_project: NewProject, flips_failing: Path
) -> None:
    ours, theirs = new_project(), new_project()
    await theirs.upload(folder_files(flips_failing))
    test_id = history_id(results_named(flips_failing, "test_flips")[-1])

    assert await ours.every(f"/tests/{test_id}/history") == []
