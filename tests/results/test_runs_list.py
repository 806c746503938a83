"""GET /runs: runs newest first, filtered, a page at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.results.allure_data import result_file_named
from tests.results.results_api import API, JSON, CreateRun, NewProject, every_item, new_run_name

from testops_kit.testing import assert_problem

# One test of the standard suite per run status, so a run's status is known from its file.
TEST_OF_STATUS = {
    "passed": "test_pays_with_card",
    "failed": "test_total_is_wrong",
    "broken": "test_gateway_is_down",
    "skipped": "test_refunds_are_skipped",
}

MakeRun = Callable[..., Awaitable[JSON]]


@pytest.fixture
def branch() -> str:
    """A branch no other test uploads to: listing by it shows this test's runs only."""
    return f"branch-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_run(create_run: CreateRun, allure_results: Path, branch: str) -> MakeRun:
    """``await make_run("failed", **fields)``: a one-result run of that status on ``branch``."""

    async def make(status: str = "passed", **fields: str) -> JSON:
        run = await create_run(
            [result_file_named(allure_results, TEST_OF_STATUS[status])],
            **{"branch": branch, **fields},
        )
        assert run["status"] == status
        return run

    return make


async def listing(client: httpx.AsyncClient, **params: Any) -> JSON:
    response = await client.get(f"{API}/runs", params=params)
    assert response.status_code == 200, response.text
    page: JSON = response.json()
    return page


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    return [run["id"] for run in (await listing(client, **params))["items"]]


def between(earlier: JSON, later: JSON) -> str:
    """A moment strictly between the creation of two runs, as RFC 3339 with an offset."""
    start = datetime.fromisoformat(earlier["created_at"])
    end = datetime.fromisoformat(later["created_at"])
    assert start < end, (start, end)
    return (start + (end - start) / 2).isoformat()


async def runs_apart(make_run: MakeRun, statuses: list[str]) -> list[JSON]:
    """Runs created one after another with time between their ``created_at``s."""
    runs = []
    for status in statuses:
        if runs:
            await asyncio.sleep(0.01)
        runs.append(await make_run(status))
    return runs


# --- shape and order


async def test_list_answers_whole_runs_and_a_null_next_cursor_on_the_only_page(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    run = await make_run()

    page = await listing(client, branch=branch)

    assert page == {"items": [run], "next_cursor": None}


async def test_list_is_newest_first(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    runs = await runs_apart(make_run, ["passed", "failed", "broken"])

    assert await ids(client, branch=branch) == [run["id"] for run in reversed(runs)]


async def test_list_without_filters_starts_with_the_newest_run(
    client: httpx.AsyncClient, make_run: MakeRun
) -> None:
    run = await make_run()

    assert (await ids(client, limit=1)) == [run["id"]]


# --- filters


async def test_list_filters_by_name(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    first, _, second = (
        await make_run(run_name=name),
        await make_run(),
        await make_run(run_name=name),
    )

    assert await ids(client, name=name) == [second["id"], first["id"]]


async def test_list_filters_by_status(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    runs = {status: await make_run(status) for status in TEST_OF_STATUS}

    for status, run in runs.items():
        assert await ids(client, branch=branch, status=status) == [run["id"]], status


async def test_list_filters_by_branch(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    mine = await make_run()
    await make_run(branch=f"other-{uuid.uuid4().hex[:8]}")

    assert await ids(client, branch=branch) == [mine["id"]]


async def test_list_filters_by_created_after_and_created_before(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    old, middle, new = await runs_apart(make_run, ["passed", "passed", "passed"])

    after = await ids(client, branch=branch, created_after=between(old, middle))
    before = await ids(client, branch=branch, created_before=between(middle, new))
    inside = await ids(
        client,
        branch=branch,
        created_after=between(old, middle),
        created_before=between(middle, new),
    )

    assert after == [new["id"], middle["id"]]
    assert before == [middle["id"], old["id"]]
    assert inside == [middle["id"]]


async def test_list_with_a_time_beyond_what_utc_can_hold_takes_it_as_a_bound(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    run = await make_run()

    after_everything = await ids(client, branch=branch, created_after="9999-12-31T23:59:59-05:00")
    before_everything = await ids(client, branch=branch, created_before="0001-01-01T00:00:00+05:00")
    after_nothing = await ids(client, branch=branch, created_after="0001-01-01T00:00:00+05:00")

    assert (after_everything, before_everything, after_nothing) == ([], [], [run["id"]])


async def test_list_combines_filters(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    name = f"combo-{uuid.uuid4().hex[:8]}"
    wanted = await make_run("failed", run_name=name)
    await make_run("passed", run_name=name)
    await make_run("failed")

    assert await ids(client, branch=branch, name=name, status="failed") == [wanted["id"]]


async def test_list_leaves_out_deleted_runs_unless_asked(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    kept, deleted = await make_run(), await make_run()
    assert (await client.delete(f"{API}/runs/{deleted['id']}")).status_code == 204

    default = await ids(client, branch=branch)
    excluded = await ids(client, branch=branch, deleted="exclude")
    only = await listing(client, branch=branch, deleted="only")
    included = await ids(client, branch=branch, deleted="include")

    assert default == excluded == [kept["id"]]
    assert [run["id"] for run in only["items"]] == [deleted["id"]]
    assert only["items"][0]["is_deleted"] is True
    assert only["items"][0]["deleted_at"] is not None
    assert included == [deleted["id"], kept["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "green"},
        {"deleted": "sometimes"},
        {"created_after": "yesterday"},
        {"created_before": "0.5"},
        {"created_after": "2026-01-31"},
    ],
    ids=[
        "status",
        "deleted",
        "created_after",
        "created_before-seconds",
        "created_after-date-only",
    ],
)
async def test_list_with_a_filter_value_it_cannot_read_is_rejected(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/runs", params=params)

    assert_problem(response, 422, "validation_error")


# --- pages


async def test_list_pages_follow_the_cursor_to_every_run_once(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    runs = [await make_run() for _ in range(5)]
    pages, cursor = [], None

    while True:
        page = await listing(
            client, branch=branch, limit=2, **({"cursor": cursor} if cursor else {})
        )
        pages.append([run["id"] for run in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [run_id for page in pages for run_id in page] == [run["id"] for run in reversed(runs)]


async def test_list_next_page_is_stable_when_a_run_arrives_in_between(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    runs = [await make_run() for _ in range(3)]
    first = await listing(client, branch=branch, limit=2)

    newcomer = await make_run()
    second = await listing(client, branch=branch, limit=2, cursor=first["next_cursor"])

    assert [r["id"] for r in first["items"]] == [runs[2]["id"], runs[1]["id"]]
    assert [r["id"] for r in second["items"]] == [runs[0]["id"]]
    assert second["next_cursor"] is None
    assert newcomer["id"] in await ids(client, branch=branch)


async def test_list_reads_every_run_through_every_page(
    client: httpx.AsyncClient, make_run: MakeRun, branch: str
) -> None:
    runs = [await make_run() for _ in range(3)]

    listed = await every_item(client, f"{API}/runs", branch=branch, limit=1)

    assert [run["id"] for run in listed] == [run["id"] for run in reversed(runs)]


@pytest.mark.parametrize("limit", [0, 501, -1])
async def test_list_with_a_limit_out_of_range_is_rejected(
    client: httpx.AsyncClient, limit: int
) -> None:
    response = await client.get(f"{API}/runs", params={"limit": limit})

    assert_problem(response, 422, "validation_error")


async def test_list_with_a_limit_of_500_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs", params={"limit": 500})

    assert response.status_code == 200, response.text


async def test_list_with_a_cursor_it_did_not_make_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs", params={"cursor": "not-a-cursor"})

    assert_problem(response, 422, "invalid_cursor")


# --- projects


async def test_list_never_shows_another_project_s_runs_whatever_the_filters_and_cursor(
    new_project: NewProject, allure_results: Path, branch: str
) -> None:
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    files = [result_file_named(allure_results, TEST_OF_STATUS["failed"])]
    mine: list[JSON] = []
    for _ in range(3):  # interleaved: ids of both projects alternate
        mine.append(await ours.upload(files, run_name=name, branch=branch))
        await theirs.upload(files, run_name=name, branch=branch)
    gone = await ours.upload(files, run_name=name, branch=branch)
    their_gone = await theirs.upload(files, run_name=name, branch=branch)
    assert (await ours.client.delete(f"{ours.api}/runs/{gone['id']}")).status_code == 204
    assert (await theirs.client.delete(f"{theirs.api}/runs/{their_gone['id']}")).status_code == 204
    newest_first = [run["id"] for run in reversed(mine)]

    for params in (
        {},
        {"name": name},
        {"branch": branch},
        {"status": "failed"},
        {"created_after": mine[0]["created_at"]},
        {"created_before": "2999-01-01T00:00:00Z"},
    ):
        listed = await ours.every("/runs", limit=1, **params)
        assert [run["id"] for run in listed] == newest_first, params
    deleted = await ours.every("/runs", limit=1, deleted="only")
    assert [run["id"] for run in deleted] == [gone["id"]]
    everything = await ours.every("/runs", limit=1, deleted="include")
    assert [run["id"] for run in everything] == [gone["id"], *newest_first]


async def test_list_with_a_cursor_of_another_project_still_shows_its_own_runs_only(
    new_project: NewProject, allure_results: Path
) -> None:
    ours, theirs = new_project(), new_project()
    files = [result_file_named(allure_results, TEST_OF_STATUS["passed"])]
    mine = [await ours.upload(files)]
    for _ in range(2):
        await theirs.upload(files)
    mine.append(await ours.upload(files))
    their_page = (await theirs.get("/runs", limit=1)).json()
    assert their_page["next_cursor"] is not None

    page = (await ours.get("/runs", limit=50, cursor=their_page["next_cursor"])).json()

    assert {run["id"] for run in page["items"]} <= {run["id"] for run in mine}
