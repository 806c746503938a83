"""GET /analytics/flaky: tests that flipped or passed on a retry in the newest runs of a name."""

from __future__ import annotations

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


async def upload_series(create_run: CreateRun, name: str, *folders: Path) -> list[JSON]:
    """One run per folder, all called ``name``, in the order given (oldest first)."""
    return [await create_run(folder_files(folder), run_name=name) for folder in folders]


async def flaky(client: httpx.AsyncClient, name: str, **params: str) -> list[JSON]:
    return await every_item(client, f"{API}/analytics/flaky", name=name, **params)


async def test_flaky_ranks_the_flipping_test_before_the_test_passing_on_retries(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    older, newer = await upload_series(create_run, name, flips_failing, flips_passing)

    items = await flaky(client, name)

    assert [(i["name"], i["flips"], i["passed_on_retry"]) for i in items] == [
        ("test_flips", 1, 0),
        ("test_passes_on_rerun", 0, 2),
    ]
    [flips] = results_named(flips_passing, "test_flips")
    assert items[0]["history_id"] == history_id(flips)
    assert items[0]["full_name"] == flips["fullName"]
    assert [(r["run_id"], r["status"]) for r in items[0]["last_results"]] == [
        (newer["id"], "passed"),
        (older["id"], "failed"),
    ]
    assert items[0]["last_results"][0]["created_at"] == newer["created_at"]


async def test_flaky_never_lists_stable_tests(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    """``test_stable`` always passes, ``test_totals`` and ``test_loads_fixture`` always fail."""
    name = new_run_name()
    await upload_series(create_run, name, flips_failing, flips_passing, flips_passing)

    names = {item["name"] for item in await flaky(client, name)}

    assert names == {"test_flips", "test_passes_on_rerun"}


async def test_flaky_counts_a_flip_back_and_forth_twice(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    await upload_series(create_run, name, flips_passing, flips_failing, flips_passing)

    [flips] = [item for item in await flaky(client, name) if item["name"] == "test_flips"]

    assert flips["flips"] == 2
    assert [r["status"] for r in flips["last_results"]] == ["passed", "failed", "passed"]


async def test_flaky_looks_at_the_newest_window_runs_only(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    await upload_series(create_run, name, flips_failing, flips_passing, flips_passing)

    narrow = {item["name"] for item in await flaky(client, name, window="2")}
    wide = {item["name"] for item in await flaky(client, name, window="3")}

    assert "test_flips" not in narrow
    assert "test_flips" in wide


async def test_flaky_leaves_out_deleted_runs_and_other_names(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    older, _ = await upload_series(create_run, name, flips_failing, flips_passing)
    await create_run(folder_files(flips_failing), run_name=new_run_name())

    deleted = await client.delete(f"{API}/runs/{older['id']}")
    assert deleted.status_code == 204

    items = await flaky(client, name)
    assert [(item["name"], item["flips"]) for item in items] == [("test_passes_on_rerun", 0)]


async def test_flaky_pages_follow_the_cursor_in_rank_order(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    name = new_run_name()
    await upload_series(create_run, name, flips_failing, flips_passing)

    first = await client.get(f"{API}/analytics/flaky", params={"name": name, "limit": 1})

    assert first.status_code == 200, first.text
    assert first.json()["next_cursor"] is not None
    assert await flaky(client, name, limit="1") == await flaky(client, name)


async def test_flaky_of_an_unknown_name_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/analytics/flaky", params={"name": new_run_name()})

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_flaky_without_a_name_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/analytics/flaky")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


async def test_flaky_with_a_window_out_of_range_is_refused(client: httpx.AsyncClient) -> None:
    for window in ("1", "501", "many"):
        response = await client.get(
            f"{API}/analytics/flaky", params={"name": "nightly", "window": window}
        )
        assert response.status_code == 422, (window, response.text)
        assert response.json()["code"] == "validation_error"


async def test_flaky_with_a_cursor_of_another_listing_is_refused(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path
) -> None:
    for _ in range(2):
        await create_run(folder_files(flips_failing))
    runs = await client.get(f"{API}/runs", params={"limit": 1})
    cursor = runs.json()["next_cursor"]

    response = await client.get(f"{API}/analytics/flaky", params={"name": "x", "cursor": cursor})

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_cursor"


# --- projects


async def test_flaky_takes_the_runs_of_its_project_only_for_the_same_name_and_tests(
    new_project: NewProject, flips_failing: Path, flips_passing: Path
) -> None:
    """Interleaved runs of one name: ``test_flips`` always fails in ours and always passes in
    theirs, so it flips only in a window that mixed the two."""
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    mine, their = [], []
    for _ in range(2):
        mine.append(await ours.upload(folder_files(flips_failing), run_name=name))
        their.append(await theirs.upload(folder_files(flips_passing), run_name=name))

    for project, runs in ((ours, mine), (theirs, their)):
        items = await project.every("/analytics/flaky", name=name, limit=1)
        assert [(i["name"], i["flips"], i["passed_on_retry"]) for i in items] == [
            ("test_passes_on_rerun", 0, 2)
        ]
        assert [r["run_id"] for r in items[0]["last_results"]] == [
            run["id"] for run in reversed(runs)
        ]


async def test_an_upload_marks_flaky_from_the_runs_of_its_project_only(
    new_project: NewProject, flips_failing: Path, flips_passing: Path
) -> None:
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    await theirs.upload(folder_files(flips_passing), run_name=name)
    run = await ours.upload(folder_files(flips_failing), run_name=name)

    [flips] = await ours.every(f"/runs/{run['id']}/results", q="test_flips")

    assert flips["flaky"] is False
