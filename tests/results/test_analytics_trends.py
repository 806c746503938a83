"""GET /analytics/trends: status, stats and duration of the newest runs of a name, oldest first."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.results.results_api import API, JSON, CreateRun, NewProject, folder_files, new_run_name


async def trends(client: httpx.AsyncClient, name: str, **params: str) -> JSON:
    response = await client.get(f"{API}/analytics/trends", params={"name": name, **params})
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


def point(run: JSON) -> JSON:
    return {key: run[key] for key in ("id", "created_at", "status", "stats", "duration_ms")}


async def test_trends_answer_each_run_of_the_name_oldest_first(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    flips_failing: Path,
    flips_passing: Path,
) -> None:
    name = new_run_name()
    runs = [
        await create_run(folder_files(folder), run_name=name)
        for folder in (flips_failing, allure_results, flips_passing)
    ]
    await create_run(folder_files(allure_results), run_name=new_run_name())

    body = await trends(client, name)

    assert body == {"name": name, "items": [point(run) for run in runs]}
    assert [item["stats"]["failed"] for item in body["items"]] == [
        run["stats"]["failed"] for run in runs
    ]


async def test_trends_limit_keeps_the_newest_runs(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    runs = [
        await create_run(folder_files(folder), run_name=name)
        for folder in (flips_failing, flips_passing, flips_failing)
    ]

    body = await trends(client, name, limit="2")

    assert [item["id"] for item in body["items"]] == [runs[1]["id"], runs[2]["id"]]


async def test_trends_leave_out_deleted_runs(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    older = await create_run(folder_files(flips_failing), run_name=name)
    newer = await create_run(folder_files(flips_passing), run_name=name)
    assert (await client.delete(f"{API}/runs/{older['id']}")).status_code == 204

    body = await trends(client, name)

    assert [item["id"] for item in body["items"]] == [newer["id"]]


async def test_trends_of_an_unknown_name_are_empty(client: httpx.AsyncClient) -> None:
    name = new_run_name()

    assert await trends(client, name) == {"name": name, "items": []}


async def test_trends_without_a_name_or_with_a_bad_limit_are_refused(
    client: httpx.AsyncClient,
) -> None:
    for params in ({}, {"name": ""}, {"name": "x", "limit": "0"}, {"name": "x", "limit": "501"}):
        response = await client.get(f"{API}/analytics/trends", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == "validation_error"


# --- projects


async def test_trends_take_the_runs_of_their_project_only_for_the_same_name(
    new_project: NewProject, flips_failing: Path, flips_passing: Path
) -> None:
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    mine = [await ours.upload(folder_files(flips_failing), run_name=name)]
    their = [await theirs.upload(folder_files(flips_passing), run_name=name)]
    mine.append(await ours.upload(folder_files(flips_passing), run_name=name))

    for project, runs in ((ours, mine), (theirs, their)):
        response = await project.get("/analytics/trends", name=name, limit=500)
        assert response.status_code == 200, response.text
        assert response.json() == {"name": name, "items": [point(run) for run in runs]}
