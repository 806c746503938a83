"""GET /results/{id}: one result in full, with its steps, attachments and fixtures."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from tests.results.allure_data import PNG_BYTES, RAW_DUMP_BYTES, RECEIPT, at, results_named
from tests.results.reports_api import tiny_results
from tests.results.results_api import API, JSON, NewProject, assert_hidden_as_missing

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647
ResultOf = Callable[..., Awaitable[JSON]]


@pytest.fixture
def result_of(
    uploaded_run: JSON,
    run_results: Callable[..., Awaitable[list[JSON]]],
    read_result: Callable[[int], Awaitable[JSON]],
) -> ResultOf:
    """``await result_of("test_x")``: the full counted result of that test in the uploaded run."""

    async def read(name: str, *, retry: bool = False) -> JSON:
        items = await run_results(uploaded_run["id"], q=name, include_retries="true")
        [item] = [i for i in items if i["name"] == name and i["is_retry"] is retry]
        return await read_result(item["id"])

    return read


def shape(steps: list[JSON]) -> list[tuple[str, list[str], list[object]]]:
    """Each step as (name, its attachments' names, its sub-steps' shape)."""
    return [
        (step["name"], [a["name"] for a in step["attachments"]], shape(step["steps"]))
        for step in steps
    ]


def by_name(items: list[JSON]) -> dict[str, JSON]:
    return {item["name"]: item for item in items}


async def test_get_answers_the_list_item_fields_and_the_run(
    uploaded_run: JSON,
    result_of: ResultOf,
    run_results: Callable[..., Awaitable[list[JSON]]],
) -> None:
    [item] = await run_results(uploaded_run["id"], q="test_pays_with_card")

    result = await result_of("test_pays_with_card")

    assert {key: result[key] for key in item} == item
    assert result["run_id"] == uploaded_run["id"]


async def test_get_answers_times_from_the_file(result_of: ResultOf, allure_results: Path) -> None:
    [source] = results_named(allure_results, "test_pays_with_card")

    result = await result_of("test_pays_with_card")

    assert datetime.fromisoformat(result["started_at"]) == at(source["start"])
    assert datetime.fromisoformat(result["finished_at"]) == at(source["stop"])
    assert result["duration_ms"] == source["stop"] - source["start"]


async def test_get_answers_nested_steps_with_their_attachments(result_of: ResultOf) -> None:
    result = await result_of("test_pays_with_card")

    assert shape(result["steps"]) == [
        ("Open the cart", ["cart summary"], [("Count the items", ["cart screenshot"], [])]),
        ("Pay", ["receipt"], []),
    ]
    step = result["steps"][0]
    assert step["status"] == "passed"
    assert step["duration_ms"] >= 0
    assert datetime.fromisoformat(step["started_at"]) <= datetime.fromisoformat(step["finished_at"])
    [screenshot] = step["steps"][0]["attachments"]
    assert isinstance(screenshot["id"], int)
    assert screenshot["content_type"] == "image/png"
    assert screenshot["size"] == len(PNG_BYTES)
    assert screenshot["source"].endswith("-attachment.png")
    [receipt] = result["steps"][1]["attachments"]
    assert receipt["content_type"] == "application/json"
    assert receipt["size"] == len(json.dumps(RECEIPT).encode())


async def test_get_answers_attachments_made_outside_any_step(result_of: ResultOf) -> None:
    result = await result_of("test_pays_with_card")

    [dump] = result["attachments"]
    assert dump["name"] == "raw dump"
    assert dump["size"] == len(RAW_DUMP_BYTES)
    assert dump["source"].endswith("-attachment.bin")
    assert isinstance(dump["id"], int)


async def test_get_answers_labels_links_and_description(result_of: ResultOf) -> None:
    result = await result_of("test_pays_with_card")

    labels = {(label["name"], label["value"]) for label in result["labels"]}
    assert {("feature", "checkout"), ("layer", "api"), ("tag", "smoke")} <= labels
    assert ("suite", "test_checkout") in labels
    assert sorted(result["links"], key=lambda link: link["url"]) == [
        {"name": "TC-123", "url": "https://example.com/cases/123", "type": "tms"},
        {"name": "docs", "url": "https://example.com/docs/checkout", "type": "link"},
        {"name": "ISSUE-42", "url": "https://example.com/issues/42", "type": "issue"},
    ]
    assert result["description"] == "Pays for a cart with a card."
    assert result["description_html"] is None


async def test_get_answers_the_fixtures_that_ran_before_and_after_the_test(
    result_of: ResultOf,
) -> None:
    result = await result_of("test_pays_with_card")

    befores, afters = by_name(result["befores"]), by_name(result["afters"])
    assert set(befores) == {"store", "cart"}
    assert shape(befores["store"]["steps"]) == [("Open the store", [], [])]
    assert shape(befores["cart"]["steps"]) == [("Fill the cart", ["cart contents"], [])]
    assert befores["cart"]["status"] == "passed"
    [contents] = befores["cart"]["steps"][0]["attachments"]
    assert isinstance(contents["id"], int)
    assert contents["content_type"] == "text/plain"
    assert {"store::1", "cart::1"} <= set(afters)
    assert shape(afters["cart::1"]["steps"]) == [("Empty the cart", [], [])]
    assert shape(afters["store::1"]["steps"]) == [("Close the store", [], [])]
    for fixture in [*result["befores"], *result["afters"]]:
        assert set(fixture) >= {
            "name", "status", "status_details", "started_at", "finished_at", "duration_ms",
            "steps", "attachments",
        }  # fmt: skip


async def test_get_of_a_test_without_fixtures_has_none(result_of: ResultOf) -> None:
    result = await result_of("test_gateway_is_down")

    assert (result["befores"], result["afters"]) == ([], [])


async def test_get_of_a_test_sharing_only_the_module_fixture_has_only_that_one(
    result_of: ResultOf,
) -> None:
    result = await result_of("test_finds_by_name")

    assert [fixture["name"] for fixture in result["befores"]] == ["store"]


async def test_get_of_a_failed_test_answers_its_status_details_and_html_description(
    result_of: ResultOf, allure_results: Path
) -> None:
    [source] = results_named(allure_results, "test_total_is_wrong")

    result = await result_of("test_total_is_wrong")

    assert result["status"] == "failed"
    assert result["status_details"] == {
        "message": source["statusDetails"]["message"],
        "trace": source["statusDetails"]["trace"],
        "flaky": False,
        "muted": False,
        "known": False,
    }
    assert "assert len(cart) == 3" in result["status_details"]["trace"]
    assert result["description_html"] == "<p>Totals <b>add up</b></p>"


async def test_get_of_a_broken_test_answers_the_broken_step_with_its_details(
    result_of: ResultOf,
) -> None:
    result = await result_of("test_gateway_is_down")

    assert result["status"] == "broken"
    [step] = result["steps"]
    assert (step["name"], step["status"]) == ("Call the gateway", "broken")
    assert "gateway down" in step["status_details"]["message"]
    assert "raise ConnectionError" in step["status_details"]["trace"]


async def test_get_of_a_parametrized_test_answers_its_parameters(result_of: ResultOf) -> None:
    result = await result_of("test_discount[10]")

    parameters = by_name(result["parameters"])
    assert set(parameters) == {"percent", "session", "token"}
    assert (parameters["percent"]["value"], parameters["percent"]["excluded"]) == ("10", False)
    assert parameters["session"]["excluded"] is True
    assert parameters["token"]["mode"] == "masked"
    [step] = result["steps"]
    assert step["name"] == "Apply 10 percent"
    assert [(p["name"], p["value"]) for p in step["parameters"]] == [
        ("price", "100"),
        ("percent", "10"),
    ]


async def test_get_of_a_retried_attempt_marks_it_as_a_retry(result_of: ResultOf) -> None:
    retry = await result_of("test_flaky_passes_on_second_try", retry=True)
    counted = await result_of("test_flaky_passes_on_second_try")

    assert (retry["status"], retry["is_retry"]) == ("failed", True)
    assert (counted["status"], counted["is_retry"]) == ("passed", False)
    assert retry["history_id"] == counted["history_id"]
    assert "first attempt fails" in retry["status_details"]["message"]


async def test_get_of_an_unknown_result_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/results/{UNKNOWN_ID}")

    assert_problem(response, 404, "result_not_found")


# --- projects


async def test_get_of_another_project_s_result_is_not_found_as_a_missing_one(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload(tiny_results("failed"))
    [result] = await theirs.every(f"/runs/{theirs_run['id']}/results")

    hidden = await ours.get(f"/results/{result['id']}")

    assert_hidden_as_missing(hidden, await ours.get(f"/results/{UNKNOWN_ID}"))
    read = await theirs.get(f"/results/{result['id']}")
    assert read.status_code == 200, read.text
    assert read.json()["run_id"] == theirs_run["id"]
    [attachment] = read.json()["attachments"]
    assert attachment["id"] is not None
