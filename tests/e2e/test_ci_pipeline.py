"""A CI pipeline's day, only through the gateway's HTTP port with its bearer token: file test
cases into a suite, upload allure-results, trigger a repository's suite and follow its log,
read the run it made, download an attachment; and what a token that may only read, or no
token, gets."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate
from tests.e2e.stack import (
    API,
    FINISHED,
    JSON,
    PYTEST_STARTED,
    SHOP_STATS,
    SHOP_TESTS,
    Deployment,
    FollowedExecution,
    follow_execution,
)
from tests.executor.repositories import Repo
from tests.results.allure_data import attachment_files, expected_run
from tests.results.results_api import every_item, folder_files, form_files

from testops_kit.testing import PrincipalAuth, assert_problem

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def execution_body(repo: Repo, run_name: str) -> JSON:
    return {
        "repo_url": repo.url,
        "branch": "main",
        "suite": {"name": "tests/", "params": {"v": True}},
        "run_name": run_name,
    }


@pytest.fixture(scope="module")
async def uploaded(
    deployment: Deployment, ci: httpx.AsyncClient, allure_results: Path
) -> httpx.Response:
    """The answer to the pipeline's upload of ``allure_results``, as loose files."""
    return await ci.post(
        f"{API}/runs",
        data={"run_name": f"nightly-{uuid.uuid4().hex[:8]}", "branch": "main"},
        files=form_files(folder_files(allure_results)),
    )


@pytest.fixture(scope="module")
async def followed(
    deployment: Deployment, ci: httpx.AsyncClient, shop_repo: Repo
) -> FollowedExecution:
    """An execution of ``shop_repo`` queued by the pipeline, its log followed to the end."""
    return await follow_execution(ci, execution_body(shop_repo, f"shop-{deployment.storage}"))


# --- who may call


async def test_a_request_without_a_token_is_refused_as_unauthenticated(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get(f"{API}/test-cases")

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith('Bearer realm="testops"')


async def test_a_token_that_may_only_read_reads_but_cannot_create_or_execute(
    reader: httpx.AsyncClient, shop_repo: Repo
) -> None:
    listed = await reader.get(f"{API}/test-cases")
    created = await reader.post(f"{API}/test-cases", json={"name": "Not allowed"})
    queued = await reader.post(f"{API}/executions", json=execution_body(shop_repo, "nope"))

    assert listed.status_code == 200, listed.text
    assert_problem(created, 403, "forbidden")
    assert_problem(queued, 403, "forbidden")
    assert 'scope="write"' in created.headers["www-authenticate"]
    assert 'scope="execute"' in queued.headers["www-authenticate"]


# --- the catalog


async def test_the_pipeline_files_its_test_cases_into_a_suite_in_the_order_it_gives(
    ci: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    tag = unique("smoke")
    cases = []
    for name in (unique("Login works"), unique("Logout works")):
        response = await ci.post(
            f"{API}/test-cases",
            json={"name": name, "steps": [{"action": "Open the app"}], "tags": [tag]},
        )
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"{API}/test-cases/{response.json()['id']}"
        cases.append(response.json())
    suite = await ci.post(f"{API}/suites", json={"name": unique("Smoke suite")})
    assert suite.status_code == 201, suite.text
    suite_id = suite.json()["id"]

    first = await ci.post(f"{API}/suites/{suite_id}/cases", json={"test_case_id": cases[0]["id"]})
    second = await ci.post(
        f"{API}/suites/{suite_id}/cases", json={"test_case_id": cases[1]["id"], "position": 1}
    )
    members = await ci.get(f"{API}/suites/{suite_id}/cases")
    read_suite = await ci.get(f"{API}/suites/{suite_id}")
    tagged = await ci.get(f"{API}/test-cases", params={"tag": tag, "suite_id": suite_id})

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert members.status_code == 200, members.text
    assert [(m["test_case_id"], m["position"]) for m in members.json()["items"]] == [
        (cases[1]["id"], 1),
        (cases[0]["id"], 2),
    ]
    assert read_suite.json()["case_count"] == 2
    assert read_suite.headers["etag"] == f'"{read_suite.json()["version"]}"'
    assert sorted(c["id"] for c in tagged.json()["items"]) == sorted(c["id"] for c in cases)


# --- an upload of allure-results


async def test_an_upload_of_allure_results_becomes_a_run_counted_as_allure_counts(
    ci: httpx.AsyncClient, uploaded: httpx.Response, allure_results: Path
) -> None:
    expected = expected_run(allure_results)

    assert uploaded.status_code == 201, uploaded.text
    run = uploaded.json()
    assert uploaded.headers["location"] == f"{API}/runs/{run['id']}"
    assert run["stats"] == expected.stats
    assert run["status"] == expected.status
    assert (run["source"], run["branch"], run["warnings"]) == ("upload", "main", [])
    read = await ci.get(uploaded.headers["location"])
    assert read.status_code == 200, read.text
    assert read.json()["stats"] == expected.stats
    results = await every_item(ci, f"{API}/runs/{run['id']}/results")
    assert len(results) == expected.stats["total"]


async def test_an_uploaded_attachment_downloads_through_the_gateway_byte_for_byte(
    ci: httpx.AsyncClient, uploaded: httpx.Response, allure_results: Path
) -> None:
    assert uploaded.status_code == 201, uploaded.text
    sent = {path.name: path.read_bytes() for path in attachment_files(allure_results)}
    attachments = await every_item(ci, f"{API}/runs/{uploaded.json()['id']}/attachments")
    png = next(a for a in attachments if a["source"].endswith(".png"))

    content = await ci.get(f"{API}/attachments/{png['id']}/content")

    assert content.status_code == 200, content.text
    assert content.headers["content-type"] == "image/png"
    assert int(content.headers["content-length"]) == len(sent[png["source"]])
    assert hashlib.sha256(content.content).hexdigest() == png["sha256"]
    assert png["sha256"] == hashlib.sha256(sent[png["source"]]).hexdigest()
    assert {a["source"] for a in attachments} == set(sent)


# --- an execution of a repository


async def test_triggering_an_execution_is_accepted_with_its_location_and_queue_position(
    followed: FollowedExecution, shop_repo: Repo
) -> None:
    accepted = followed.accepted
    execution = accepted.json()

    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"] == f"{API}/executions/{execution['id']}"
    assert execution["status"] == "pending"
    assert execution["position"] == 1
    assert execution["repo_url"] == shop_repo.url


async def test_the_followed_log_streams_pytest_output_while_the_execution_still_runs(
    followed: FollowedExecution,
) -> None:
    pytest_output_at = followed.first_arrival_of(PYTEST_STARTED)

    still_running = [p for p in followed.polls if p.at > pytest_output_at]
    assert still_running, "no status was asked for after pytest's output came"
    assert still_running[0].status not in FINISHED, (
        "pytest's output came only when the execution had ended:\n"
        + "\n".join(f"{p.at:.2f} {p.status}" for p in followed.polls)
    )
    assert followed.polls[-1].status in FINISHED
    assert len(followed.arrivals) > 1


async def test_the_followed_log_is_the_whole_log_of_the_execution(
    ci: httpx.AsyncClient, followed: FollowedExecution
) -> None:
    log = await ci.get(f"{API}/executions/{followed.finished['id']}/log")

    assert log.status_code == 200, log.text
    assert log.headers["x-more-data"] == "false"
    assert followed.followed_log() == log.content
    assert int(log.headers["x-log-size"]) == len(log.content) == followed.finished["log_size"]
    for name in SHOP_TESTS:
        assert name.encode() in log.content


async def test_the_execution_ends_with_a_run_that_counts_the_repositorys_tests(
    ci: httpx.AsyncClient, followed: FollowedExecution, shop_repo: Repo
) -> None:
    execution = followed.finished
    assert (execution["status"], execution["outcome"]) == ("completed", "tests_failed"), execution
    assert execution["exit_code"] == 1
    assert execution["commit"] == shop_repo.head

    run = await ci.get(f"{API}/runs/{execution['run_id']}")
    results = await every_item(ci, f"{API}/runs/{execution['run_id']}/results")

    assert run.status_code == 200, run.text
    assert run.json()["stats"] == SHOP_STATS
    assert run.json()["status"] == "failed"
    assert (run.json()["source"], run.json()["execution_id"]) == ("execution", execution["id"])
    assert run.json()["name"] == execution["run_name"]
    assert {r["name"] for r in results} == SHOP_TESTS


# --- the merged OpenAPI document


async def test_the_merged_openapi_document_is_valid_and_has_every_operation_of_the_services(
    anonymous: httpx.AsyncClient, deployment: Deployment
) -> None:
    response = await anonymous.get(f"{API}/openapi.json")
    assert response.status_code == 200, response.text
    merged: JSON = response.json()

    validate(merged)
    assert merged["openapi"].startswith("3.1")
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for name, service_url in deployment.services.items():
        # Straight to the service, with the principal the gateway would sign.
        async with httpx.AsyncClient(
            base_url=service_url, trust_env=False, auth=PrincipalAuth(name)
        ) as direct:
            own: JSON = (await direct.get(f"{API}/openapi.json")).json()
        operations = {
            (path, method)
            for path, item in own["paths"].items()
            if path.startswith(f"{API}/")
            for method in item
            if method in HTTP_METHODS
        }
        assert operations, f"{name} has no /api/v1 operation"
        missing = {(p, m) for p, m in operations if m not in merged["paths"].get(p, {})}
        assert missing == set(), f"{name}'s operations missing from the merged document"
