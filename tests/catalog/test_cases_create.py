from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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


async def cases_matching(client: httpx.AsyncClient, text: str) -> list[JSON]:
    """Every case, deleted ones too, whose name or description contains ``text``."""
    response = await client.get(API, params={"q": text, "deleted": "include", "limit": 500})
    assert response.status_code == 200, response.text
    items: list[JSON] = response.json()["items"]
    return items


async def test_create_with_seed_body_answers_201_with_location_etag_steps_tags_and_suite(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name, suite = unique("Login works"), unique("API Suite")
    body = {
        "name": name,
        "steps": [
            {"position": 1, "action": "Open login page", "expected": "Form shown"},
            {"position": 2, "action": "Type credentials"},
            {"action": "Submit"},
        ],
        "tags": ["smoke", {"name": "regression"}],
        "suite_links": [{"suite_name": suite, "position": 2}],
    }

    response = await client.post("/api/v1/test-cases", json=body)

    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["location"] == f"/api/v1/test-cases/{case['id']}"
    assert response.headers["etag"] == '"1"'
    assert [(s["position"], s["action"]) for s in case["steps"]] == [
        (1, "Open login page"),
        (2, "Type credentials"),
        (3, "Submit"),
    ]
    assert sorted(t["name"] for t in case["tags"]) == ["regression", "smoke"]
    assert [(s["name"], s["position"]) for s in case["suites"]] == [(suite, 2)]
    assert case["version"] == 1
    assert case["is_deleted"] is False


# The seed's example of a test case to create, as it is written there.
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


async def test_create_with_the_seed_example_body_as_written_reads_back_every_value(
    client: httpx.AsyncClient, read_case: ReadCase, delete_afterwards: Callable[[int], None]
) -> None:
    response = await client.post(API, json=SEED_CREATE_BODY)

    assert response.status_code == 201, response.text
    case = response.json()
    delete_afterwards(case["id"])
    assert {key: case[key] for key in ("name", "preconditions", "description")} == {
        "name": "Созданный через curl тест-кейс",
        "preconditions": "Авторизация: пользователь залогинен",
        "description": "Пошаговая проверка входа и создания записи",
    }
    assert case["expected_result"] == "Запись создаётся, данные отображаются в списке"
    assert [
        (step["position"], step["action"], step["expected"], step["attachments"])
        for step in case["steps"]
    ] == [
        (1, "Открыть поле ввода", "Поле ввода открылось", None),
        (2, "Ввести текст и отправить", "Текст введен и отправлен", None),
        (3, "Заполнить форму и отправить", "Появилось подтверждение", "screenshot-1.png"),
    ]
    assert sorted(tag["name"] for tag in case["tags"]) == ["regression", "smoke"]
    assert [(suite["name"], suite["position"]) for suite in case["suites"]] == [("API Suite", 2)]
    assert await read_case(case["id"]) == case


async def test_create_with_the_seed_example_plus_a_tag_and_a_suite_by_id_links_them_all(
    client: httpx.AsyncClient,
    unique: Unique,
    create_tag: Factory,
    create_suite: Factory,
    read_case: ReadCase,
) -> None:
    tag, suite = await create_tag(), await create_suite()
    body = {
        **SEED_CREATE_BODY,
        "name": unique("seed"),
        "tags": [*SEED_CREATE_BODY["tags"], {"id": tag["id"]}],
        "suite_links": [*SEED_CREATE_BODY["suite_links"], {"suite_id": suite["id"]}],
    }

    response = await client.post(API, json=body)

    assert response.status_code == 201, response.text
    case = response.json()
    assert sorted(t["name"] for t in case["tags"]) == sorted(["regression", "smoke", tag["name"]])
    assert sorted((s["name"], s["position"]) for s in case["suites"]) == sorted(
        [("API Suite", 2), (suite["name"], 1)]
    )
    assert case["steps"][2]["attachments"] == "screenshot-1.png"
    assert await read_case(case["id"]) == case


async def test_create_with_duplicate_step_position_is_rejected(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    body = {
        "name": unique("dup"),
        "steps": [{"position": 1, "action": "a"}, {"position": 1, "action": "b"}],
    }

    response = await client.post("/api/v1/test-cases", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "steps", 1, "position"]
    listing = await client.get("/api/v1/test-cases", params={"q": body["name"]})
    assert listing.json()["items"] == []


async def test_create_location_serves_the_created_case_with_the_same_etag(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    response = await client.post(
        API,
        json={
            "name": unique("located"),
            "preconditions": "User exists",
            "description": "Checks the login",
            "expected_result": "Dashboard is shown",
        },
    )
    assert response.status_code == 201, response.text

    fetched = await client.get(response.headers["location"])

    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == response.json()
    assert fetched.headers["etag"] == response.headers["etag"]
    case = fetched.json()
    assert case["preconditions"] == "User exists"
    assert case["description"] == "Checks the login"
    assert case["expected_result"] == "Dashboard is shown"
    assert case["deleted_at"] is None
    assert case["created_at"] == case["updated_at"]
    assert case["created_at"].endswith("+00:00")


async def test_create_with_only_a_name_leaves_every_other_field_empty(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("minimal")

    response = await client.post(API, json={"name": name})

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["name"] == name
    assert case["preconditions"] is None
    assert case["description"] is None
    assert case["expected_result"] is None
    assert (case["steps"], case["tags"], case["suites"]) == ([], [], [])


async def test_create_trims_spaces_around_the_name(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("trimmed")

    response = await client.post(API, json={"name": f"  {name}\t "})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


async def test_create_with_a_255_character_name_is_accepted(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("long").ljust(255, "x")

    response = await client.post(API, json={"name": name})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


async def test_create_with_name_of_an_active_case_is_a_conflict(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    first = await create_case(name=unique("taken"))

    response = await client.post(API, json={"name": first["name"], "description": "second"})

    problem = assert_problem(response, 409, "test_case_name_conflict")
    assert first["name"] in problem["detail"]
    assert [case["id"] for case in await cases_matching(client, first["name"])] == [first["id"]]


async def test_create_with_name_of_an_active_case_plus_spaces_is_a_conflict(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    first = await create_case(name=unique("spaced"))

    response = await client.post(API, json={"name": f" {first['name']} "})

    assert_problem(response, 409, "test_case_name_conflict")


async def test_create_with_name_of_a_deleted_case_is_accepted(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    first = await create_case()
    deleted = await client.delete(f"{API}/{first['id']}")
    assert deleted.status_code == 204, deleted.text

    response = await client.post(API, json={"name": first["name"]})

    assert response.status_code == 201, response.text
    assert response.json()["id"] != first["id"]
    assert response.json()["name"] == first["name"]


async def test_create_of_one_name_concurrently_creates_one_case_and_refuses_the_others(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("race")

    responses = await asyncio.gather(*(client.post(API, json={"name": name}) for _ in range(6)))

    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1, [r.text for r in responses]
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, "test_case_name_conflict")
    assert [case["id"] for case in await cases_matching(client, name)] == [created[0].json()["id"]]


async def test_create_assigns_missing_step_positions_after_the_highest_given(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    steps = [
        {"action": "first sent"},
        {"position": 5, "action": "second sent"},
        {"action": "third"},
    ]

    response = await client.post(API, json={"name": unique("numbered"), "steps": steps})

    assert response.status_code == 201, response.text
    assert [(s["position"], s["action"]) for s in response.json()["steps"]] == [
        (5, "second sent"),
        (6, "first sent"),
        (7, "third"),
    ]


async def test_create_numbers_steps_without_positions_from_one_in_order(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    steps = [{"action": "a"}, {"action": "b"}, {"action": "c"}]

    response = await client.post(API, json={"name": unique("plain"), "steps": steps})

    assert response.status_code == 201, response.text
    assert [(s["position"], s["action"]) for s in response.json()["steps"]] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]


async def test_create_returns_steps_sorted_by_position_with_expected_and_attachments(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    attachments = "login.png, notes.txt"
    steps = [
        {"position": 3, "action": "check", "expected": "Dashboard", "attachments": attachments},
        {"position": 1, "action": "open"},
    ]

    response = await client.post(API, json={"name": unique("sorted"), "steps": steps})

    assert response.status_code == 201, response.text
    first, second = response.json()["steps"]
    assert (first["position"], first["action"], first["expected"]) == (1, "open", None)
    assert first["attachments"] is None
    assert (second["position"], second["expected"], second["attachments"]) == (
        3,
        "Dashboard",
        attachments,
    )
    assert isinstance(first["id"], int)
    assert first["id"] != second["id"]


async def test_create_with_several_duplicate_step_positions_points_at_each_later_step(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    marker = unique("dups")
    steps = [
        {"position": 2, "action": "a"},
        {"position": 2, "action": "b"},
        {"position": 3, "action": "c"},
        {"position": 3, "action": "d"},
    ]

    response = await client.post(API, json={"name": marker, "steps": steps})

    problem = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [
        ["body", "steps", 1, "position"],
        ["body", "steps", 3, "position"],
    ]
    assert await cases_matching(client, marker) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("", "at least 1 character", id="empty"),
        pytest.param("   ", "at least 1 character", id="whitespace-only"),
        pytest.param("x" * 300, "at most 255 characters", id="300-characters"),
        pytest.param(123, "valid string", id="number"),
        pytest.param(None, "valid string", id="null"),
        pytest.param(["a"], "valid string", id="list"),
        pytest.param("nul\u0000inside", "NUL", id="nul-character"),
    ],
)
async def test_create_with_invalid_name_is_rejected_and_creates_nothing(
    client: httpx.AsyncClient, unique: Unique, name: object, message: str
) -> None:
    marker = unique("badname")

    response = await client.post(API, json={"name": name, "description": marker})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "name"]
    assert message in problem["errors"][0]["message"]
    assert await cases_matching(client, marker) == []


async def test_create_without_name_is_rejected_and_creates_nothing(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    marker = unique("noname")

    response = await client.post(API, json={"description": marker})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "name"]
    assert await cases_matching(client, marker) == []


@pytest.mark.parametrize(
    ("steps", "loc"),
    [
        pytest.param([{"action": ""}], ["body", "steps", 0, "action"], id="empty-action"),
        pytest.param(
            [{"action": "ok"}, {"action": " \n "}], ["body", "steps", 1, "action"], id="blank"
        ),
        pytest.param([{"expected": "x"}], ["body", "steps", 0, "action"], id="missing-action"),
        pytest.param([{"action": 5}], ["body", "steps", 0, "action"], id="number-action"),
        pytest.param([{"action": "a\u0000"}], ["body", "steps", 0, "action"], id="nul-action"),
        pytest.param(
            [{"action": "a", "position": "abc"}], ["body", "steps", 0, "position"], id="text-pos"
        ),
        pytest.param(
            [{"action": "a", "position": 0}], ["body", "steps", 0, "position"], id="zero-pos"
        ),
        pytest.param(
            [{"action": "a", "position": -3}], ["body", "steps", 0, "position"], id="negative-pos"
        ),
        pytest.param(
            [{"action": "a", "position": 1.5}], ["body", "steps", 0, "position"], id="float-pos"
        ),
        pytest.param(
            [{"action": "a", "colour": "red"}], ["body", "steps", 0, "colour"], id="unknown-key"
        ),
        pytest.param("x", ["body", "steps"], id="steps-string"),
        pytest.param({"action": "a"}, ["body", "steps"], id="steps-object"),
        pytest.param(["open"], ["body", "steps", 0], id="step-string"),
        pytest.param([{"action": "a"}] * 1001, ["body", "steps"], id="1001-steps"),
        pytest.param(
            [{"action": "a", "attachments": ["login.png"]}],
            ["body", "steps", 0, "attachments"],
            id="attachments-list",
        ),
        pytest.param(
            [{"action": "a", "attachments": {"file": "login.png"}}],
            ["body", "steps", 0, "attachments"],
            id="attachments-object",
        ),
        pytest.param(
            [{"action": "a", "attachments": "x" * 65_537}],
            ["body", "steps", 0, "attachments"],
            id="attachments-65537-characters",
        ),
        pytest.param(
            [{"action": "a", "attachments": "a\u0000.png"}],
            ["body", "steps", 0, "attachments"],
            id="nul-attachments",
        ),
    ],
)
async def test_create_with_invalid_steps_is_rejected_and_creates_nothing(
    client: httpx.AsyncClient, unique: Unique, steps: object, loc: list[object]
) -> None:
    name = unique("badsteps")

    response = await client.post(API, json={"name": name, "steps": steps})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert await cases_matching(client, name) == []


@pytest.mark.parametrize(
    ("field", "value", "loc_start"),
    [
        pytest.param("tags", "smoke", ["body", "tags"], id="tags-string"),
        pytest.param("tags", [""], ["body", "tags", 0], id="blank-tag"),
        pytest.param("tags", ["t" * 101], ["body", "tags", 0], id="101-character-tag"),
        pytest.param("tags", [{"id": 0}], ["body", "tags", 0], id="tag-id-zero"),
        pytest.param("tags", [{"id": "abc"}], ["body", "tags", 0], id="tag-id-text"),
        pytest.param("tags", [{"id": 2**31}], ["body", "tags", 0], id="tag-id-beyond-int32"),
        pytest.param("tags", [{"label": "x"}], ["body", "tags", 0], id="tag-unknown-key"),
        pytest.param("suite_links", [{}], ["body", "suite_links", 0], id="empty-link"),
        pytest.param(
            "suite_links", [{"suite_name": " "}], ["body", "suite_links", 0], id="blank-suite"
        ),
        pytest.param(
            "suite_links", [{"suite_id": 2**40}], ["body", "suite_links", 0], id="huge-suite-id"
        ),
        pytest.param(
            "suite_links",
            [{"suite_name": "s", "position": 0}],
            ["body", "suite_links", 0],
            id="link-position-zero",
        ),
        pytest.param(
            "suite_links",
            [{"suite_id": 1, "suite_name": "s"}],
            ["body", "suite_links", 0],
            id="both-id-and-name",
        ),
        pytest.param("description", 42, ["body", "description"], id="number-description"),
        pytest.param(
            "preconditions", "a\u0000b", ["body", "preconditions"], id="nul-preconditions"
        ),
    ],
)
async def test_create_with_invalid_tags_links_or_texts_is_rejected_and_creates_nothing(
    client: httpx.AsyncClient,
    unique: Unique,
    field: str,
    value: object,
    loc_start: list[object],
) -> None:
    name = unique("badfield")

    response = await client.post(API, json={"name": name, field: value})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][: len(loc_start)] == loc_start
    assert await cases_matching(client, name) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"this is not JSON {name}", "application/json", id="not-json"),
        pytest.param(b'{"name": "MARKER", "steps": [', "application/json", id="truncated-json"),
        pytest.param(b'[{"name": "MARKER"}]', "application/json", id="json-array"),
        pytest.param(b'"MARKER"', "application/json", id="json-string"),
        pytest.param(b"null", "application/json", id="json-null"),
        pytest.param(b"", "application/json", id="empty-body"),
        pytest.param(b'{"name": "MARKER"}', "text/plain", id="text-plain"),
        pytest.param(b"name=MARKER", "application/x-www-form-urlencoded", id="form"),
        pytest.param(
            b'{"name": "MARKER", "x": 1' + b"0" * 5000 + b"}",
            "application/json",
            id="5000-digit-number",
        ),
    ],
)
async def test_create_with_a_body_that_is_no_json_object_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, unique: Unique, content: bytes, content_type: str
) -> None:
    marker = unique("notjson")

    response = await client.post(
        API,
        content=content.replace(b"MARKER", marker.encode()),
        headers={"content-type": content_type},
    )

    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code, response.json()["code"])
    assert await cases_matching(client, marker) == []


async def test_create_attaches_tags_given_as_string_name_object_or_existing_id(
    client: httpx.AsyncClient, unique: Unique, create_tag: Factory
) -> None:
    by_id = await create_tag()
    as_string, as_object = unique("str-tag"), unique("obj-tag")

    response = await client.post(
        API,
        json={
            "name": unique("tagged"),
            "tags": [as_string, {"name": as_object}, {"id": by_id["id"]}],
        },
    )

    assert response.status_code == 201, response.text
    tags = response.json()["tags"]
    assert sorted(tag["name"] for tag in tags) == sorted([as_string, as_object, by_id["name"]])
    assert {"id": by_id["id"], "name": by_id["name"]} in tags
    assert [tag["name"] for tag in tags] == sorted(tag["name"] for tag in tags)


async def test_create_with_a_tag_name_that_exists_reuses_that_tag(
    client: httpx.AsyncClient, unique: Unique, create_tag: Factory
) -> None:
    tag = await create_tag()

    response = await client.post(
        API, json={"name": unique("reuse"), "tags": [tag["name"], {"name": f" {tag['name']} "}]}
    )

    assert response.status_code == 201, response.text
    assert response.json()["tags"] == [{"id": tag["id"], "name": tag["name"]}]


async def test_create_with_a_new_tag_name_creates_the_tag(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    name = unique("fresh-tag")

    response = await client.post(API, json={"name": unique("case"), "tags": [name]})

    assert response.status_code == 201, response.text
    tag = response.json()["tags"][0]
    fetched = await client.get(f"/api/v1/tags/{tag['id']}")
    assert fetched.status_code == 200, fetched.text
    assert (fetched.json()["name"], fetched.json()["case_count"]) == (name, 1)


async def test_create_naming_one_tag_twice_attaches_it_once(
    client: httpx.AsyncClient, unique: Unique, create_tag: Factory
) -> None:
    tag = await create_tag()

    response = await client.post(
        API,
        json={
            "name": unique("twice"),
            "tags": [tag["name"], {"id": tag["id"]}, {"name": tag["name"]}],
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["tags"] == [{"id": tag["id"], "name": tag["name"]}]


async def test_create_with_one_new_tag_name_concurrently_creates_one_tag(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    tag = unique("shared-tag")

    responses = await asyncio.gather(
        *(client.post(API, json={"name": unique("c"), "tags": [tag]}) for _ in range(6))
    )

    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["tags"][0]["id"] for r in responses}) == 1
    listing = await client.get(API, params={"tag": tag})
    assert len(listing.json()["items"]) == 6


async def test_create_with_unknown_tag_id_skips_it_and_logs_a_warning_with_the_request_id(
    client: httpx.AsyncClient, unique: Unique, create_tag: Factory
) -> None:
    known = await create_tag()
    request_id = unique("req-tag")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.post(
            API,
            json={"name": unique("skiptag"), "tags": [{"id": UNKNOWN_ID}, {"id": known["id"]}]},
            headers={"X-Request-ID": request_id},
        )

    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == request_id
    assert response.json()["tags"] == [{"id": known["id"], "name": known["name"]}]
    warnings = [event for event in events if event["event"] == "tag_not_found_skipped"]
    assert len(warnings) == 1, events
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["tag_id"] == UNKNOWN_ID
    assert warnings[0]["request_id"] == request_id


async def test_create_with_unknown_suite_id_skips_it_and_logs_a_warning_with_the_request_id(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    known = await create_suite()
    request_id = unique("req-suite")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.post(
            API,
            json={
                "name": unique("skipsuite"),
                "suite_links": [{"suite_id": UNKNOWN_ID, "position": 1}, {"suite_id": known["id"]}],
            },
            headers={"X-Request-ID": request_id},
        )

    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == request_id
    assert [(s["id"], s["name"]) for s in response.json()["suites"]] == [
        (known["id"], known["name"])
    ]
    warnings = [event for event in events if event["event"] == "suite_not_found_skipped"]
    assert len(warnings) == 1, events
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["suite_id"] == UNKNOWN_ID
    assert warnings[0]["request_id"] == request_id


async def test_create_with_a_deleted_suite_id_skips_it_and_logs_a_warning(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    suite = await create_suite()
    assert (await client.delete(f"/api/v1/suites/{suite['id']}")).status_code == 204

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.post(
            API, json={"name": unique("gone"), "suite_links": [{"suite_id": suite["id"]}]}
        )

    assert response.status_code == 201, response.text
    assert response.json()["suites"] == []
    assert [e["suite_id"] for e in events if e["event"] == "suite_not_found_skipped"] == [
        suite["id"]
    ]


async def test_create_with_a_new_suite_name_creates_a_root_suite(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    suite_name = unique("new-suite")

    response = await client.post(
        API, json={"name": unique("linked"), "suite_links": [{"suite_name": suite_name}]}
    )

    assert response.status_code == 201, response.text
    [link] = response.json()["suites"]
    assert (link["name"], link["position"]) == (suite_name, 1)
    suite = await client.get(f"/api/v1/suites/{link['id']}")
    assert suite.status_code == 200, suite.text
    assert suite.json()["name"] == suite_name
    assert suite.json()["parent_id"] is None


async def test_create_with_the_name_of_an_existing_root_suite_links_that_suite(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.post(
        API,
        json={"name": unique("linked"), "suite_links": [{"suite_name": suite["name"]}]},
    )

    assert response.status_code == 201, response.text
    assert [s["id"] for s in response.json()["suites"]] == [suite["id"]]


async def test_create_with_the_name_of_a_child_suite_links_a_root_suite_of_that_name(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    parent = await create_suite()
    child = await create_suite(parent_id=parent["id"])

    response = await client.post(
        API,
        json={"name": unique("linked"), "suite_links": [{"suite_name": child["name"]}]},
    )

    assert response.status_code == 201, response.text
    [link] = response.json()["suites"]
    assert link["id"] != child["id"]
    root = await client.get(f"/api/v1/suites/{link['id']}")
    assert (root.json()["name"], root.json()["parent_id"]) == (child["name"], None)


async def test_create_with_one_new_suite_name_concurrently_links_every_case_to_one_suite(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    suite_name = unique("race-suite")

    responses = await asyncio.gather(
        *(
            client.post(
                API, json={"name": unique("c"), "suite_links": [{"suite_name": suite_name}]}
            )
            for _ in range(6)
        )
    )

    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    suite_ids = {r.json()["suites"][0]["id"] for r in responses}
    assert len(suite_ids) == 1
    listing = await client.get(API, params={"suite_id": suite_ids.pop()})
    assert len(listing.json()["items"]) == 6


async def test_create_with_suite_id_links_that_suite_at_the_given_position(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.post(
        API,
        json={"name": unique("linked"), "suite_links": [{"suite_id": suite["id"], "position": 4}]},
    )

    assert response.status_code == 201, response.text
    assert response.json()["suites"] == [{"id": suite["id"], "name": suite["name"], "position": 4}]


async def test_create_without_suite_link_position_appends_the_case_to_the_suite(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    await create_case(suite_links=[{"suite_id": suite["id"], "position": 7}])

    case = await create_case(suite_links=[{"suite_id": suite["id"]}])
    another = await create_case(suite_links=[{"suite_name": suite["name"]}])

    assert [s["position"] for s in case["suites"]] == [8]
    assert [s["position"] for s in another["suites"]] == [9]


async def test_create_with_a_taken_suite_position_moves_the_later_members_down(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    first = await create_case(suite_links=[{"suite_id": suite["id"], "position": 1}])

    second = await create_case(suite_links=[{"suite_id": suite["id"], "position": 1}])

    assert [s["position"] for s in second["suites"]] == [1]
    moved = await client.get(f"{API}/{first['id']}")
    assert [s["position"] for s in moved.json()["suites"]] == [2]


async def test_create_of_cases_appended_to_one_suite_concurrently_gives_each_its_own_position(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    suite = await create_suite()
    link = {"suite_id": suite["id"]}

    responses = await asyncio.gather(
        *(client.post(API, json={"name": unique("c"), "suite_links": [link]}) for _ in range(6))
    )

    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    positions = sorted(r.json()["suites"][0]["position"] for r in responses)
    assert positions == [1, 2, 3, 4, 5, 6]


async def test_create_of_cases_put_at_one_suite_position_concurrently_keeps_positions_distinct(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory
) -> None:
    suite = await create_suite()
    link = {"suite_id": suite["id"], "position": 1}

    responses = await asyncio.gather(
        *(client.post(API, json={"name": unique("c"), "suite_links": [link]}) for _ in range(6))
    )

    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    members = await client.get(f"/api/v1/suites/{suite['id']}/cases", params={"limit": 500})
    assert members.status_code == 200, members.text
    assert sorted(m["position"] for m in members.json()["items"]) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"steps": [{"action": "a", "attachments": "NESTED"}]}, id="attachments"),
        pytest.param({"steps": [{"action": "NESTED"}]}, id="action"),
        pytest.param({"tags": ["smoke", "NESTED"]}, id="tag"),
        pytest.param({"suite_links": [{"suite_name": "NESTED"}]}, id="suite-link"),
        pytest.param({"description": "NESTED"}, id="description"),
        pytest.param({"custom": "NESTED"}, id="unknown-field"),
    ],
)
async def test_create_with_json_nested_past_the_limit_in_any_field_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, unique: Unique, fields: JSON, depth: int
) -> None:
    name = unique("deep")

    response = await send_quietly(client, "POST", API, with_nested({"name": name, **fields}, depth))

    assert_too_deep(response)
    assert await cases_matching(client, name) == []


async def test_create_takes_an_integer_written_with_a_zero_fraction_as_that_integer(
    client: httpx.AsyncClient, create_suite: Factory
) -> None:
    suite = await create_suite()

    response = await client.post(
        API,
        json={
            "name": f"fraction-{suite['id']}",
            "steps": [{"action": "open", "position": 2.0}],
            "suite_links": [{"suite_id": float(suite["id"]), "position": 1.0}],
        },
    )

    assert response.status_code == 201, response.text
    case = response.json()
    assert [step["position"] for step in case["steps"]] == [2]
    assert [(link["id"], link["position"]) for link in case["suites"]] == [(suite["id"], 1)]
