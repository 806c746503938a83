"""GET /runs/{id}/results: a run's results, the counted ones unless retries are asked for."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.results.allure_data import ExpectedRun, history_id, read_json, result_files
from tests.results.reports_api import tiny_results
from tests.results.results_api import API, JSON, NewProject, assert_hidden_as_missing

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647
ITEM_FIELDS = {
    "id", "uuid", "history_id", "test_case_id", "name", "full_name", "status", "message",
    "duration_ms", "is_retry", "flaky",
}  # fmt: skip

RunResults = Callable[..., Awaitable[list[JSON]]]


def names(items: list[JSON]) -> list[str]:
    return sorted(item["name"] for item in items)


async def test_list_answers_the_counted_result_of_every_test_ordered_by_id(
    uploaded_run: JSON, run_results: RunResults, expected: ExpectedRun
) -> None:
    items = await run_results(uploaded_run["id"])

    assert len(items) == expected.stats["total"]
    assert {item["uuid"] for item in items} == {r["uuid"] for r in expected.effective.values()}
    assert [item["id"] for item in items] == sorted(item["id"] for item in items)
    assert all(item["is_retry"] is False for item in items)
    assert all(set(item) >= ITEM_FIELDS for item in items), items[0]


async def test_list_items_carry_what_the_result_file_says(
    uploaded_run: JSON, run_results: RunResults, allure_results: Path
) -> None:
    files = {result["uuid"]: result for result in map(read_json, result_files(allure_results))}

    items = await run_results(uploaded_run["id"], include_retries="true")

    for item in items:
        source = files[item["uuid"]]
        assert item["history_id"] == history_id(source), item
        assert item["name"] == source["name"]
        assert item["full_name"] == source["fullName"]
        assert item["status"] == source["status"]
        assert item["message"] == source.get("statusDetails", {}).get("message")
        assert item["duration_ms"] == source["stop"] - source["start"]


async def test_list_takes_the_test_case_id_from_the_allure_id_label(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    items = await run_results(uploaded_run["id"], q="test_finds_by_name")

    assert [item["test_case_id"] for item in items] == [456]


async def test_list_takes_the_test_case_id_from_allure_pytest_s_allure_id(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    """``@allure.id("123")`` is written by allure-pytest as the label ``as_id``."""
    items = await run_results(uploaded_run["id"], q="test_pays_with_card")

    assert [item["test_case_id"] for item in items] == [123]


async def test_list_has_no_test_case_id_for_tests_without_an_allure_id(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    items = await run_results(uploaded_run["id"])

    without = [i for i in items if i["name"] not in ("test_pays_with_card", "test_finds_by_name")]
    assert {item["test_case_id"] for item in without} == {None}


async def test_list_with_retries_adds_the_attempts_that_did_not_count(
    uploaded_run: JSON, run_results: RunResults, expected: ExpectedRun
) -> None:
    items = await run_results(uploaded_run["id"], include_retries="true")

    retries = [item for item in items if item["is_retry"]]
    assert len(items) == expected.stats["total"] + expected.stats["retry_attempts"]
    assert {item["uuid"] for item in retries} == {r["uuid"] for r in expected.retried}
    assert all(item["status"] == "failed" for item in retries)
    counted = {item["history_id"] for item in items if not item["is_retry"]}
    assert {item["history_id"] for item in retries} <= counted


async def test_list_with_retries_false_is_the_default(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    assert await run_results(uploaded_run["id"], include_retries="false") == await run_results(
        uploaded_run["id"]
    )


@pytest.mark.parametrize(
    ("statuses", "expected_names"),
    [
        (["failed"], ["test_always_fails", "test_total_is_wrong"]),
        (["broken"], ["test_gateway_is_down"]),
        (["skipped"], ["test_refunds_are_skipped", "test_rounding_is_exact"]),
        (
            ["failed", "broken"],
            ["test_always_fails", "test_gateway_is_down", "test_total_is_wrong"],
        ),
        (["unknown"], []),
    ],
    ids=["failed", "broken", "skipped", "failed-or-broken", "unknown"],
)
async def test_list_filters_by_any_of_the_statuses_given(
    uploaded_run: JSON, run_results: RunResults, statuses: list[str], expected_names: list[str]
) -> None:
    items = await run_results(uploaded_run["id"], status=statuses)

    assert names(items) == expected_names


async def test_list_filters_by_status_among_retries_too(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    items = await run_results(uploaded_run["id"], status="failed", include_retries="true")

    assert names(items) == [
        "test_always_fails",
        "test_always_fails",
        "test_flaky_passes_on_second_try",
        "test_total_is_wrong",
    ]


@pytest.mark.parametrize(
    ("q", "expected_names"),
    [
        ("discount", ["test_discount[0]", "test_discount[10]", "test_discount[50]"]),
        ("DISCOUNT[1", ["test_discount[10]"]),
        ("testsearch#", ["test_finds_by_name"]),  # in the full name only
        ("no test is called this", []),
        ("pays%card", []),  # a substring, not a LIKE pattern
    ],
    ids=["name", "any-case", "full-name", "nothing", "percent-is-literal"],
)
async def test_list_filters_by_text_in_the_name_or_full_name(
    uploaded_run: JSON, run_results: RunResults, q: str, expected_names: list[str]
) -> None:
    items = await run_results(uploaded_run["id"], q=q)

    assert names(items) == expected_names


@pytest.mark.parametrize(
    ("labels", "expected_names"),
    [
        (["tag:smoke"], ["test_pays_with_card"]),
        (["tag:search"], ["test_finds_by_name"]),
        (["tag:smoke", "feature:checkout"], ["test_pays_with_card"]),
        (["tag:smoke", "tag:search"], []),
        (["layer:web"], []),
        (["subSuite:TestSearch"], ["test_finds_by_name"]),
    ],
    ids=["one", "another", "both-match", "not-both", "other-value", "writer-label"],
)
async def test_list_filters_by_labels_that_must_all_match(
    uploaded_run: JSON, run_results: RunResults, labels: list[str], expected_names: list[str]
) -> None:
    items = await run_results(uploaded_run["id"], label=labels)

    assert names(items) == expected_names


async def test_list_combines_status_text_and_label_filters(
    uploaded_run: JSON, run_results: RunResults
) -> None:
    items = await run_results(
        uploaded_run["id"], status=["passed", "failed"], q="test_", label="suite:test_checkout"
    )

    assert names(items) == names(await run_results(uploaded_run["id"], status=["passed", "failed"]))
    assert len(items) == 8


async def test_list_pages_follow_the_cursor_in_id_order(
    client: httpx.AsyncClient, uploaded_run: JSON, run_results: RunResults
) -> None:
    everything = await run_results(uploaded_run["id"])
    pages: list[list[JSON]] = []
    params: dict[str, Any] = {"limit": 4}

    while True:
        response = await client.get(f"{API}/runs/{uploaded_run['id']}/results", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert [len(page) for page in pages] == [4, 4, 3]
    assert [item for page in pages for item in page] == everything


async def test_list_of_an_unknown_run_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs/{UNKNOWN_ID}/results")

    assert_problem(response, 404, "run_not_found")


async def test_list_with_a_status_it_does_not_know_is_rejected(
    client: httpx.AsyncClient, uploaded_run: JSON
) -> None:
    response = await client.get(
        f"{API}/runs/{uploaded_run['id']}/results", params={"status": "green"}
    )

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("limit", [0, 501])
async def test_list_with_a_limit_out_of_range_is_rejected(
    client: httpx.AsyncClient, uploaded_run: JSON, limit: int
) -> None:
    response = await client.get(f"{API}/runs/{uploaded_run['id']}/results", params={"limit": limit})

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("label", ["suite:test_checkout", "suite:", "", "suite", ":x"])
async def test_a_label_filter_is_taken_exactly_when_it_matches_the_documented_pattern(
    client: httpx.AsyncClient, results_app: FastAPI, uploaded_run: JSON, label: str
) -> None:
    [operation] = [
        operation
        for operations in results_app.openapi()["paths"].values()
        for operation in operations.values()
        if operation.get("operationId") == "list_run_results"
    ]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "label"]
    pattern = parameter["schema"]["items"]["pattern"]

    response = await client.get(f"{API}/runs/{uploaded_run['id']}/results", params={"label": label})

    if re.search(pattern, label):
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 422, "validation_error")


# --- projects


async def test_list_of_another_project_s_run_is_not_found_as_a_missing_one(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload(tiny_results("passed", "failed"))

    hidden = await ours.get(f"/runs/{theirs_run['id']}/results")

    assert_hidden_as_missing(hidden, await ours.get(f"/runs/{UNKNOWN_ID}/results"))
    assert len(await theirs.every(f"/runs/{theirs_run['id']}/results")) == 2
