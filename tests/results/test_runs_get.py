"""GET /runs/{id}: one run, as the upload answered it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from tests.results.allure_data import ENVIRONMENT, EXECUTOR, ExpectedRun, result_file_named
from tests.results.results_api import (
    API,
    JSON,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
)

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far


async def test_get_answers_the_run_as_the_upload_did(
    client: httpx.AsyncClient, uploaded_run: JSON
) -> None:
    response = await client.get(f"{API}/runs/{uploaded_run['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == uploaded_run


async def test_get_answers_every_field_of_the_contract(
    client: httpx.AsyncClient, uploaded_run: JSON, expected: ExpectedRun
) -> None:
    run = (await client.get(f"{API}/runs/{uploaded_run['id']}")).json()

    assert set(run) >= {
        "id", "name", "status", "stats", "started_at", "finished_at", "duration_ms",
        "created_at", "is_deleted", "deleted_at", "source", "execution_id", "branch", "commit",
        "ci_url", "environment", "executor", "warnings", "report",
    }  # fmt: skip
    assert set(run["stats"]) == {
        "total", "passed", "failed", "broken", "skipped", "unknown", "retries", "retry_attempts",
    }  # fmt: skip
    assert run["stats"] == expected.stats
    assert run["environment"] == ENVIRONMENT
    assert run["executor"] == EXECUTOR
    for moment in ("started_at", "finished_at", "created_at"):
        assert datetime.fromisoformat(run[moment]).utcoffset() is not None, moment


async def test_get_of_a_run_with_only_skipped_tests_is_skipped(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(
        [
            result_file_named(allure_results, "test_refunds_are_skipped"),
            result_file_named(allure_results, "test_rounding_is_exact"),
        ]
    )

    fetched = (await client.get(f"{API}/runs/{run['id']}")).json()

    assert fetched["status"] == "skipped"
    assert fetched["stats"]["skipped"] == 2


async def test_get_of_a_run_with_passed_and_skipped_tests_is_passed(
    create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(
        [
            result_file_named(allure_results, "test_refunds_are_skipped"),
            result_file_named(allure_results, "test_pays_with_card"),
        ]
    )

    assert run["status"] == "passed"


async def test_get_of_a_run_with_broken_and_passed_tests_is_broken(
    create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(
        [
            result_file_named(allure_results, "test_gateway_is_down"),
            result_file_named(allure_results, "test_pays_with_card"),
        ]
    )

    assert run["status"] == "broken"


async def test_get_of_an_unknown_run_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs/{UNKNOWN_ID}")

    assert_problem(response, 404, "run_not_found")


async def test_get_of_a_deleted_run_is_not_found(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])
    assert (await client.delete(f"{API}/runs/{run['id']}")).status_code == 204

    response = await client.get(f"{API}/runs/{run['id']}")

    assert_problem(response, 404, "run_not_found")


async def test_get_with_an_id_that_is_not_a_number_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs/nightly")

    assert_problem(response, 422, "validation_error")


# --- projects


async def test_get_of_another_project_s_run_is_not_found_as_a_missing_one(
    new_project: NewProject, allure_results: Path
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload([result_file_named(allure_results, "test_pays_with_card")])

    hidden = await ours.get(f"/runs/{theirs_run['id']}")

    assert_hidden_as_missing(hidden, await ours.get(f"/runs/{UNKNOWN_ID}"))
    assert (await theirs.get(f"/runs/{theirs_run['id']}")).json() == theirs_run


async def test_get_under_a_project_key_that_is_not_the_principal_s_is_not_found(
    client: httpx.AsyncClient, uploaded_run: JSON
) -> None:
    response = await client.get(f"{API}/projects/SHOP/runs/{uploaded_run['id']}")

    assert_problem(response, 404, "project_not_found")


async def test_get_answers_the_same_run_in_both_path_forms(
    client: httpx.AsyncClient, uploaded_run: JSON
) -> None:
    response = await client.get(f"{API}/projects/DEFAULT/runs/{uploaded_run['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == uploaded_run
