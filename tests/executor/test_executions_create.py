"""POST /executions: a repository's suite queued, run with real git, uv and pytest, and its
results uploaded to the results service; each way it can end."""

from __future__ import annotations

import httpx
from tests.executor.conftest import StartExecutor
from tests.executor.executor_api import (
    API,
    JSON,
    SHOP,
    assert_ended,
    execution_body,
    get_run,
    log_text,
    member_of,
    post_execution,
    run_test_names,
    run_to_end,
    wait_finished,
    wait_until,
)
from tests.executor.repositories import Repos

from testops_kit.testing import ServiceProcess, assert_problem, free_port


async def test_passing_repository_goes_pending_running_completed_and_its_run_is_uploaded(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    response = await client.post(
        f"{API}/executions",
        json=execution_body(repos.passing, params={}, run_name="passing main", timeout_s=120),
    )

    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"{API}/executions/{created['id']}"
    assert created["status"] == "pending"
    assert created["position"] == 1
    assert created["phase"] is None
    assert created["outcome"] is None
    assert created["repo_url"] == repos.passing.url
    assert created["branch"] == "main"
    assert created["suite"] == {"name": "tests/", "params": {}}
    assert created["run_name"] == "passing main"
    assert created["timeout_s"] == 120
    assert created["started_at"] is None
    assert created["run_id"] is None

    phases: list[str] = []

    def note_phase(execution: JSON) -> bool:
        if execution["status"] == "running":
            assert execution["position"] is None
            assert execution["started_at"] is not None
            if not phases or phases[-1] != execution["phase"]:
                phases.append(execution["phase"])
        return execution["status"] not in ("pending", "running")

    execution = await wait_until(client, created["id"], note_phase, interval=0.02)

    await assert_ended(client, execution, "completed", "passed")
    assert phases, "never seen running"
    assert set(phases) <= {"cloning", "syncing", "testing", "uploading"}
    order = ["cloning", "syncing", "testing", "uploading"]
    assert phases == sorted(phases, key=order.index)
    assert execution["exit_code"] == 0
    assert execution["error"] is None
    assert execution["commit"] == repos.passing.head
    assert execution["run_id"] is not None
    assert execution["log_size"] > 0
    assert execution["log_truncated"] is False
    run = await get_run(results, execution["run_id"])
    assert run["name"] == "passing main"
    assert run["source"] == "execution"
    assert run["execution_id"] == execution["id"]
    assert run["commit"] == repos.passing.head
    assert run["branch"] == "main"
    assert run["stats"]["total"] == 3
    assert run["stats"]["passed"] == 3
    assert run["stats"]["failed"] == 0


async def test_run_name_defaults_to_the_repository_and_branch(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await post_execution(client, repos.passing)

    assert execution["run_name"] == "passing main"
    assert execution["timeout_s"] == 3600
    await wait_finished(client, execution["id"])


async def test_params_k_runs_only_the_matching_test(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.passing, params={"k": "login"})

    await assert_ended(client, execution, "completed", "passed")
    assert execution["suite"]["params"] == {"k": "login"}
    run = await get_run(results, execution["run_id"])
    assert run["stats"]["total"] == 1
    assert await run_test_names(results, execution["run_id"]) == {"test_login_works"}


async def test_params_x_stops_at_the_first_failure(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.failing, params={"x": True})

    await assert_ended(client, execution, "completed", "tests_failed")
    assert " -x" in await log_text(client, execution["id"])
    run = await get_run(results, execution["run_id"])
    assert (run["stats"]["total"], run["stats"]["failed"]) == (2, 1)


async def test_params_maxfail_stops_after_that_many_failures(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.failing, params={"maxfail": 1})

    await assert_ended(client, execution, "completed", "tests_failed")
    assert " --maxfail=1" in await log_text(client, execution["id"])
    run = await get_run(results, execution["run_id"])
    assert (run["stats"]["total"], run["stats"]["failed"]) == (2, 1)


async def test_failing_tests_complete_as_tests_failed_and_still_upload(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.failing)

    await assert_ended(client, execution, "completed", "tests_failed")
    assert execution["exit_code"] == 1
    assert execution["commit"] == repos.failing.head
    run = await get_run(results, execution["run_id"])
    assert run["execution_id"] == execution["id"]
    assert run["stats"]["total"] == 3
    assert run["stats"]["passed"] == 2
    assert run["stats"]["failed"] == 1


async def test_a_suite_without_tests_completes_as_no_tests_and_uploads_nothing(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.no_tests)

    await assert_ended(client, execution, "completed", "no_tests")
    assert execution["exit_code"] == 5
    assert execution["run_id"] is None


async def test_a_repository_without_python_project_files_fails_to_sync(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.no_python)

    await assert_ended(client, execution, "failed", "error", "sync_failed")
    assert execution["commit"] == repos.no_python.head
    assert execution["error"]
    assert execution["run_id"] is None


async def test_a_missing_branch_fails_to_clone(client: httpx.AsyncClient, repos: Repos) -> None:
    execution = await run_to_end(client, repos.passing, branch="no-such-branch")

    await assert_ended(client, execution, "failed", "error", "clone_failed")
    assert execution["commit"] is None
    assert execution["run_id"] is None
    assert "no-such-branch" in await log_text(client, execution["id"])


async def test_a_missing_suite_path_is_a_pytest_usage_error(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.passing, suite="tests/test_missing.py")

    await assert_ended(client, execution, "failed", "error", "pytest_usage_error")
    assert execution["exit_code"] == 4
    assert execution["run_id"] is None


async def test_a_repository_with_requirements_txt_is_installed_from_it(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.requirements)

    await assert_ended(client, execution, "completed", "passed")
    run = await get_run(results, execution["run_id"])
    assert (run["stats"]["total"], run["stats"]["passed"]) == (2, 2)


async def test_without_a_branch_the_default_branch_is_cloned(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    response = await client.post(
        f"{API}/executions", json={"repo_url": repos.passing.url, "suite": {"name": "tests/"}}
    )
    assert response.status_code == 202, response.text
    assert response.json()["branch"] is None
    assert response.json()["run_name"] == "passing"

    execution = await wait_finished(client, response.json()["id"])

    await assert_ended(client, execution, "completed", "passed")
    assert execution["commit"] == repos.passing.head


async def test_a_suite_naming_one_test_runs_only_that_test(
    client: httpx.AsyncClient, results: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.passing, "tests/test_app.py::test_login_works")

    await assert_ended(client, execution, "completed", "passed")
    assert await run_test_names(results, execution["run_id"]) == {"test_login_works"}


async def test_an_upload_the_results_service_never_takes_fails_as_upload_failed(
    start_executor: StartExecutor, repos: Repos
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    async with start_executor("no-results", results_url=nobody, upload_attempts=2) as executor:
        client = executor.client

        execution = await run_to_end(client, repos.passing)

        await assert_ended(client, execution, "failed", "error", "upload_failed")
        assert execution["run_id"] is None
        assert execution["error"]
        log = await log_text(client, execution["id"])
        assert "3 passed" in log
        assert "[testops] upload attempt 1 of 2 failed" in log
        assert "[testops] upload attempt 2 of 2 failed" in log


async def test_an_execution_posted_in_a_project_uploads_its_run_into_that_project(
    shop: httpx.AsyncClient,
    shop_root: str,
    results: httpx.AsyncClient,
    results_service: ServiceProcess,
    repos: Repos,
) -> None:
    execution = await run_to_end(shop, repos.passing, root=shop_root)

    await assert_ended(shop, execution, "completed", "passed", root=shop_root)
    async with results_service.client(principal=member_of(SHOP)) as shop_results:
        run = await get_run(shop_results, execution["run_id"])
    assert run["execution_id"] == execution["id"]
    assert run["stats"]["passed"] == 3
    # Not in the default project's results.
    assert_problem(await results.get(f"{API}/runs/{execution['run_id']}"), 404, "run_not_found")
