from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

API = "/api/v1/test-cases"
UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far

JSON = dict[str, Any]
Unique = Callable[[str], str]
Factory = Callable[..., Awaitable[JSON]]
ReadCase = Callable[[int], Awaitable[JSON]]


# The seed's examples of a test case to create and of its replacement, as they are written there.
SEED_CREATE_BODY: JSON = {
    "name": "Созданный через curl тест-кейс",
    "preconditions": "Авторизация: пользователь залогинен",
    "description": "Пошаговая проверка входа и создания записи",
    "expected_result": "Запись создаётся, данные отображаются в списке",
    "steps": [
        {"position": 1, "action": "Открыть поле ввода", "expected": "Поле ввода открылось"},
        {
            "position": 2,
            "action": "Ввести текст и отправить",
            "expected": "Текст введен и отправлен",
        },
        {
            "action": "Заполнить форму и отправить",
            "expected": "Появилось подтверждение",
            "attachments": "screenshot-1.png",
        },
    ],
    "tags": ["smoke", {"name": "regression"}],
    "suite_links": [{"suite_name": "API Suite", "position": 2}],
}
SEED_REPLACE_BODY: JSON = {
    "name": "Обновлённый тест-кейс через curl",
    "preconditions": "Новое Авторизация: пользователь залогинен",
    "description": "Обновлённое описание",
    "expected_result": "Ожидаемый результат обновлён",
    "steps": [
        {"position": 1, "action": "Новое", "expected": "Новое открылось"},
        {"position": 2, "action": "Новое текст", "expected": "Текст введён"},
    ],
    "tags": ["smoke", {"name": "regression"}],
    "suite_links": [{"suite_name": "API Suite", "position": 1}],
}


async def test_replace_with_the_seed_example_bodies_as_written_reads_back_every_value(
    client: httpx.AsyncClient, read_case: ReadCase, delete_afterwards: Callable[[int], None]
) -> None:
    created = await client.post(API, json=SEED_CREATE_BODY)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    delete_afterwards(case_id)

    response = await client.put(f"{API}/{case_id}", json=SEED_REPLACE_BODY)

    assert response.status_code == 200, response.text
    case = response.json()
    assert (case["name"], case["preconditions"], case["description"]) == (
        "Обновлённый тест-кейс через curl",
        "Новое Авторизация: пользователь залогинен",
        "Обновлённое описание",
    )
    assert case["expected_result"] == "Ожидаемый результат обновлён"
    assert [
        (step["position"], step["action"], step["expected"], step["attachments"])
        for step in case["steps"]
    ] == [(1, "Новое", "Новое открылось", None), (2, "Новое текст", "Текст введён", None)]
    assert sorted(tag["name"] for tag in case["tags"]) == ["regression", "smoke"]
    assert [(suite["name"], suite["position"]) for suite in case["suites"]] == [("API Suite", 1)]
    assert case["version"] == 2
    assert await read_case(case_id) == case


async def test_replace_sets_omitted_fields_to_null_and_omitted_collections_to_empty(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON, read_case: ReadCase
) -> None:
    name = unique("replaced")

    response = await client.put(f"{API}/{full_case['id']}", json={"name": name})

    assert response.status_code == 200, response.text
    case = response.json()
    assert case["name"] == name
    assert (case["preconditions"], case["description"], case["expected_result"]) == (
        None,
        None,
        None,
    )
    assert (case["steps"], case["tags"], case["suites"]) == ([], [], [])
    assert await read_case(full_case["id"]) == case


async def test_replace_with_new_values_replaces_every_field_and_collection(
    client: httpx.AsyncClient,
    unique: Unique,
    create_suite: Factory,
    full_case: JSON,
    read_case: ReadCase,
) -> None:
    suite, tag = await create_suite(), unique("new-tag")
    body = {
        "name": unique("renamed"),
        "preconditions": "Admin exists",
        "description": "Checks the admin login",
        "expected_result": "Admin panel is shown",
        "steps": [{"action": "Log in as admin"}, {"position": 7, "action": "Open panel"}],
        "tags": [tag],
        "suite_links": [{"suite_id": suite["id"]}],
    }

    response = await client.put(f"{API}/{full_case['id']}", json=body)

    assert response.status_code == 200, response.text
    case = response.json()
    assert {key: case[key] for key in ("name", "preconditions", "description")} == {
        key: body[key] for key in ("name", "preconditions", "description")
    }
    assert case["expected_result"] == "Admin panel is shown"
    assert [(s["position"], s["action"]) for s in case["steps"]] == [
        (7, "Open panel"),
        (8, "Log in as admin"),
    ]
    assert [t["name"] for t in case["tags"]] == [tag]
    assert [(s["id"], s["position"]) for s in case["suites"]] == [(suite["id"], 1)]
    assert await read_case(full_case["id"]) == case


async def test_replace_bumps_the_version_and_answers_the_new_etag(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    first = await client.put(f"{API}/{full_case['id']}", json={"name": full_case["name"]})
    second = await client.put(f"{API}/{full_case['id']}", json={"name": full_case["name"]})

    assert (first.json()["version"], first.headers["etag"]) == (2, '"2"')
    assert (second.json()["version"], second.headers["etag"]) == (3, '"3"')
    assert datetime.fromisoformat(second.json()["updated_at"]) > datetime.fromisoformat(
        full_case["updated_at"]
    )
    assert second.json()["created_at"] == full_case["created_at"]


async def test_replace_keeping_its_own_name_is_no_conflict(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    response = await client.put(f"{API}/{full_case['id']}", json={"name": f" {full_case['name']} "})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == full_case["name"]


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param('"1"', id="current"),
        pytest.param("*", id="star"),
        pytest.param('W/"1"', id="weak-current"),
        pytest.param('"7", "1"', id="list-with-current"),
    ],
)
async def test_replace_with_a_matching_if_match_succeeds(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON, read_case: ReadCase, if_match: str
) -> None:
    name = unique("matched")

    response = await client.put(
        f"{API}/{full_case['id']}", json={"name": name}, headers={"If-Match": if_match}
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (await read_case(full_case["id"]))["name"] == name


@pytest.mark.parametrize("if_match", ['"0"', '"2"', 'W/"5"', "1", "garbage"])
async def test_replace_with_a_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON, read_case: ReadCase, if_match: str
) -> None:
    response = await client.put(
        f"{API}/{full_case['id']}", json={"name": unique("late")}, headers={"If-Match": if_match}
    )

    assert_problem(response, 412, "precondition_failed")
    assert await read_case(full_case["id"]) == full_case


async def test_replace_with_the_etag_of_an_earlier_version_is_refused(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON, read_case: ReadCase
) -> None:
    read = await client.get(f"{API}/{full_case['id']}")
    first = await client.put(
        f"{API}/{full_case['id']}",
        json={"name": unique("first-writer")},
        headers={"If-Match": read.headers["etag"]},
    )
    assert first.status_code == 200, first.text

    second = await client.put(
        f"{API}/{full_case['id']}",
        json={"name": unique("second-writer")},
        headers={"If-Match": read.headers["etag"]},
    )

    assert_problem(second, 412, "precondition_failed")
    assert await read_case(full_case["id"]) == first.json()


async def test_replace_of_a_missing_case_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API}/{UNKNOWN_ID}", json={"name": "anything"})

    assert_problem(response, 404, "test_case_not_found")


async def test_replace_of_a_deleted_case_is_not_found(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    case = await create_case()
    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    response = await client.put(f"{API}/{case['id']}", json={"name": unique("revived")})

    assert_problem(response, 404, "test_case_not_found")
    listed = await client.get(API, params={"q": case["name"], "deleted": "only"})
    assert [item["name"] for item in listed.json()["items"]] == [case["name"]]


async def test_replace_with_an_id_beyond_int32_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API}/{2**31}", json={"name": "anything"})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "test_case_id"]


async def test_replace_with_the_name_of_another_active_case_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient, create_case: Factory, full_case: JSON, read_case: ReadCase
) -> None:
    other = await create_case()

    response = await client.put(f"{API}/{full_case['id']}", json={"name": other["name"]})

    assert_problem(response, 409, "test_case_name_conflict")
    assert await read_case(full_case["id"]) == full_case


async def test_replace_with_the_name_of_a_deleted_case_succeeds(
    client: httpx.AsyncClient, create_case: Factory, full_case: JSON
) -> None:
    deleted = await create_case()
    assert (await client.delete(f"{API}/{deleted['id']}")).status_code == 204

    response = await client.put(f"{API}/{full_case['id']}", json={"name": deleted["name"]})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == deleted["name"]


async def test_replace_with_duplicate_step_positions_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    steps = [{"action": "a", "position": 3}, {"action": "b"}, {"action": "c", "position": 3}]

    response = await client.put(
        f"{API}/{full_case['id']}", json={"name": full_case["name"], "steps": steps}
    )

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "steps", 2, "position"]
    assert await read_case(full_case["id"]) == full_case


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-name"),
        pytest.param({"name": "  "}, id="blank-name"),
        pytest.param({"name": None}, id="null-name"),
        pytest.param({"name": 123}, id="number-name"),
        pytest.param({"name": "n" * 256}, id="256-character-name"),
        pytest.param({"name": "ok", "steps": "x"}, id="steps-string"),
        pytest.param({"name": "ok", "steps": [{"action": ""}]}, id="blank-action"),
        pytest.param({"name": "ok", "tags": [{"id": -1}]}, id="negative-tag-id"),
        pytest.param([{"name": "ok"}], id="json-array"),
        pytest.param({"name": "ok", "steps": [{"action": "a", "attachments": [1]}]}, id="list"),
        pytest.param({"name": "ok", "id": {"nested": [1]}}, id="read-only-id-object"),
        pytest.param({"name": "ok", "created_at": "yesterday"}, id="read-only-time-not-a-time"),
        pytest.param({"name": "ok", "suites": [{"id": 1, "x": 2}]}, id="read-suite-unknown-key"),
        pytest.param({"name": "ok", "tags": [{"id": 1, "name": "t" * 256}]}, id="read-tag-name"),
    ],
)
async def test_replace_with_an_invalid_body_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, body: object
) -> None:
    response = await client.put(f"{API}/{full_case['id']}", json=body)

    assert_problem(response, 422, "validation_error")
    assert await read_case(full_case["id"]) == full_case


async def test_replace_with_a_body_that_is_not_json_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    response = await client.put(
        f"{API}/{full_case['id']}",
        content=b"name=whatever",
        headers={"content-type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code, response.json()["code"])
    assert await read_case(full_case["id"]) == full_case


async def test_replace_linking_the_same_suite_without_position_keeps_its_place(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    [suite] = full_case["suites"]

    response = await client.put(
        f"{API}/{full_case['id']}",
        json={"name": full_case["name"], "suite_links": [{"suite_id": suite["id"]}]},
    )

    assert response.status_code == 200, response.text
    assert response.json()["suites"] == [suite]


async def test_replace_linking_the_same_suite_at_another_position_moves_the_case(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    [suite] = full_case["suites"]

    response = await client.put(
        f"{API}/{full_case['id']}",
        json={"name": full_case["name"], "suite_links": [{"suite_id": suite["id"], "position": 5}]},
    )

    assert response.status_code == 200, response.text
    assert response.json()["suites"] == [{**suite, "position": 5}]


async def test_replace_removes_the_case_from_suites_it_no_longer_names(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    [suite] = full_case["suites"]

    response = await client.put(f"{API}/{full_case['id']}", json={"name": full_case["name"]})

    assert response.status_code == 200, response.text
    listed = await client.get(API, params={"suite_id": suite["id"]})
    assert listed.json()["items"] == []


async def test_replace_with_an_unknown_tag_id_skips_it_and_logs_a_warning(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON
) -> None:
    request_id = unique("req-put")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.put(
            f"{API}/{full_case['id']}",
            json={"name": full_case["name"], "tags": [{"id": UNKNOWN_ID}]},
            headers={"X-Request-ID": request_id},
        )

    assert response.status_code == 200, response.text
    assert response.json()["tags"] == []
    [warning] = [event for event in events if event["event"] == "tag_not_found_skipped"]
    assert (warning["tag_id"], warning["request_id"]) == (UNKNOWN_ID, request_id)


async def test_put_of_the_case_as_read_keeps_steps_tags_and_suites(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    as_read = await read_case(full_case["id"])
    edited = {**as_read, "description": "Checks the login again"}

    response = await client.put(f"{API}/{full_case['id']}", json=edited)

    assert response.status_code == 200, response.text
    after = response.json()
    assert after["description"] == "Checks the login again"
    assert after["version"] == as_read["version"] + 1
    assert [(s["position"], s["action"]) for s in after["steps"]] == [
        (s["position"], s["action"]) for s in as_read["steps"]
    ]
    assert after["tags"] == as_read["tags"]
    assert after["suites"] == as_read["suites"]


async def test_put_with_an_unknown_field_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    before = await read_case(full_case["id"])

    response = await client.put(
        f"{API}/{full_case['id']}", json={"name": before["name"], "descripton": "typo"}
    )

    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "descripton"] in [error["loc"] for error in problem["errors"]]
    assert await read_case(full_case["id"]) == before


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"steps": [{"action": "a", "attachments": "NESTED"}]}, id="attachments"),
        pytest.param({"tags": [{"id": "NESTED"}]}, id="tag-id"),
        pytest.param({"suites": [{"id": 1, "name": "NESTED"}]}, id="read-only-suites"),
        pytest.param({"created_at": "NESTED"}, id="read-only-timestamp"),
    ],
)
async def test_replace_with_json_nested_past_the_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, fields: JSON, depth: int
) -> None:
    body = with_nested({"name": full_case["name"], **fields}, depth)

    response = await send_quietly(client, "PUT", f"{API}/{full_case['id']}", body)

    assert_too_deep(response)
    assert await read_case(full_case["id"]) == full_case
