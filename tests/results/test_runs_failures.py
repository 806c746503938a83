"""GET /runs/{id}/failures: a run's failed and broken results grouped by their cause."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from tests.results.allure_data import SAME_ERROR_TESTS, result_files
from tests.results.results_api import (
    API,
    JSON,
    UNKNOWN_ID,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
    folder_files,
)

from testops_results.analytics.repository import FailureRow
from testops_results.analytics.service import group_failures


async def failures(client: httpx.AsyncClient, run_id: int) -> JSON:
    response = await client.get(f"{API}/runs/{run_id}/failures")
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def test_failures_put_one_error_with_varying_details_in_one_group_largest_first(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path
) -> None:
    run = await create_run(folder_files(flips_failing))

    body = await failures(client, run["id"])

    assert body["run_id"] == run["id"]
    groups = body["groups"]
    assert [(g["status"], g["count"]) for g in groups] == [
        ("broken", SAME_ERROR_TESTS),
        ("failed", 1),
        ("failed", 1),
    ]
    same = groups[0]
    assert {r["name"] for r in same["results"]} == {
        f"test_loads_fixture[{size}]" for size in range(SAME_ERROR_TESTS)
    }
    assert {r["status"] for r in same["results"]} == {"broken"}
    assert all(r["full_name"] and r["id"] for r in same["results"])
    assert same["message"] == ("ValueError: fixture <tmp> has <n> bytes, session <uuid> at <addr>")
    assert re.fullmatch(r"[0-9a-f]{40}", same["fingerprint"])
    assert {r["name"] for g in groups[1:] for r in g["results"]} == {"test_flips", "test_totals"}
    assert len({g["fingerprint"] for g in groups}) == 3


async def test_failures_leave_out_retried_attempts_and_passed_results(
    client: httpx.AsyncClient, create_run: CreateRun, flips_passing: Path
) -> None:
    """``test_passes_on_rerun`` failed first, then passed: only its pass counts."""
    run = await create_run(folder_files(flips_passing))

    body = await failures(client, run["id"])

    names = {r["name"] for g in body["groups"] for r in g["results"]}
    assert "test_passes_on_rerun" not in names
    assert "test_flips" not in names
    assert (
        sum(g["count"] for g in body["groups"]) == run["stats"]["failed"] + run["stats"]["broken"]
    )


async def test_failures_of_one_error_share_a_fingerprint_across_runs(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path, flips_passing: Path
) -> None:
    """The two runs' messages differ in tmp paths, uuids and addresses; the group does not."""
    first = await failures(client, (await create_run(folder_files(flips_failing)))["id"])
    second = await failures(client, (await create_run(folder_files(flips_passing)))["id"])

    assert first["groups"][0]["fingerprint"] == second["groups"][0]["fingerprint"]
    assert first["groups"][0]["count"] == second["groups"][0]["count"] == SAME_ERROR_TESTS


async def test_failures_of_a_run_without_any_are_empty(
    client: httpx.AsyncClient, create_run: CreateRun, flips_passing: Path
) -> None:
    passed = [path for path in result_files(flips_passing) if '"passed"' in path.read_text()]
    run = await create_run(passed)

    assert await failures(client, run["id"]) == {"run_id": run["id"], "groups": []}


async def test_failures_of_an_unknown_or_deleted_run_are_not_found(
    client: httpx.AsyncClient, create_run: CreateRun, flips_failing: Path
) -> None:
    run = await create_run(folder_files(flips_failing))
    assert (await client.delete(f"{API}/runs/{run['id']}")).status_code == 204

    for run_id in (run["id"], 2**31 - 1):
        response = await client.get(f"{API}/runs/{run_id}/failures")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "run_not_found"


def test_one_assertion_failing_in_many_tests_of_a_file_is_one_group() -> None:
    """Each test's own frame differs (its name, its line); the error does not."""
    rows = [
        FailureRow(
            id=n,
            name=f"test_option_{n}",
            full_name=f"tests.test_options#test_option_{n}",
            status="failed",
            message=f"AssertionError: expected exit code 0, got {n}",
            trace=f"tests/test_options.py:{100 + n}: in test_option_{n}\n"
            f"    assert result.exit_code == 0\nE   AssertionError: got {n}",
        )
        for n in range(1, 21)
    ]
    other = FailureRow(
        id=99,
        name="test_other",
        full_name="tests.test_options#test_other",
        status="failed",
        message="KeyError: 'name'",
        trace="tests/test_options.py:7: in test_other\n    data['name']\nE   KeyError: 'name'",
    )

    groups = group_failures([*rows, other])

    assert [len(group.results) for group in groups] == [20, 1]


# --- projects


async def test_failures_of_another_project_s_run_are_not_found_as_a_missing_run_s(
    new_project: NewProject, flips_failing: Path
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload(folder_files(flips_failing))

    hidden = await ours.get(f"/runs/{theirs_run['id']}/failures")

    assert_hidden_as_missing(hidden, await ours.get(f"/runs/{UNKNOWN_ID}/failures"))
    groups = (await theirs.get(f"/runs/{theirs_run['id']}/failures")).json()["groups"]
    assert groups
