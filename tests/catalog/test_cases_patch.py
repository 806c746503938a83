from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested

from testops_kit.testing import assert_problem

API = "/api/v1/test-cases"
UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far

JSON = dict[str, Any]
Unique = Callable[[str], str]
Factory = Callable[..., Awaitable[JSON]]
ReadCase = Callable[[int], Awaitable[JSON]]


def changed_keys(before: JSON, after: JSON) -> set[str]:
    return {key for key in before if before[key] != after[key]}


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    response = await client.patch(f"{API}/{full_case['id']}", json={"description": "Reworded"})

    assert response.status_code == 200, response.text
    case = response.json()
    assert case["description"] == "Reworded"
    assert changed_keys(full_case, case) == {"description", "version", "updated_at"}
    assert await read_case(full_case["id"]) == case


async def test_patch_renames_the_case(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON
) -> None:
    name = unique("renamed")

    response = await client.patch(f"{API}/{full_case['id']}", json={"name": f" {name} "})

    assert response.status_code == 200, response.text
    assert response.json()["name"] == name
    assert changed_keys(full_case, response.json()) == {"name", "version", "updated_at"}


async def test_patch_with_null_for_an_optional_field_clears_it(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}", json={"preconditions": None, "expected_result": None}
    )

    assert response.status_code == 200, response.text
    case = response.json()
    assert (case["preconditions"], case["expected_result"]) == (None, None)
    assert case["description"] == full_case["description"]


async def test_patch_with_steps_replaces_the_steps_and_nothing_else(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}",
        json={"steps": [{"action": "new last", "position": 4}, {"action": "new"}]},
    )

    assert response.status_code == 200, response.text
    case = response.json()
    assert [(s["position"], s["action"]) for s in case["steps"]] == [(4, "new last"), (5, "new")]
    assert changed_keys(full_case, case) == {"steps", "version", "updated_at"}


async def test_patch_with_tags_replaces_the_tags_and_nothing_else(
    client: httpx.AsyncClient, unique: Unique, full_case: JSON
) -> None:
    tag = unique("only-tag")

    response = await client.patch(f"{API}/{full_case['id']}", json={"tags": [{"name": tag}]})

    assert response.status_code == 200, response.text
    case = response.json()
    assert [t["name"] for t in case["tags"]] == [tag]
    assert changed_keys(full_case, case) == {"tags", "version", "updated_at"}


async def test_patch_with_empty_tags_removes_every_tag(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    response = await client.patch(f"{API}/{full_case['id']}", json={"tags": []})

    assert response.status_code == 200, response.text
    assert response.json()["tags"] == []
    assert response.json()["steps"] == full_case["steps"]
    for tag in full_case["tags"]:
        listed = await client.get(API, params={"tag": tag["name"]})
        assert listed.json()["items"] == []


async def test_patch_with_suite_links_replaces_the_suites_and_nothing_else(
    client: httpx.AsyncClient, create_suite: Factory, full_case: JSON
) -> None:
    suite = await create_suite()

    response = await client.patch(
        f"{API}/{full_case['id']}", json={"suite_links": [{"suite_id": suite["id"]}]}
    )

    assert response.status_code == 200, response.text
    case = response.json()
    assert case["suites"] == [{"id": suite["id"], "name": suite["name"], "position": 1}]
    assert changed_keys(full_case, case) == {"suites", "version", "updated_at"}


async def test_patch_bumps_the_version_and_updated_at_and_answers_the_new_etag(
    client: httpx.AsyncClient, full_case: JSON
) -> None:
    first = await client.patch(f"{API}/{full_case['id']}", json={"description": "one"})
    second = await client.patch(f"{API}/{full_case['id']}", json={"description": "two"})

    assert (first.json()["version"], first.headers["etag"]) == (2, '"2"')
    assert (second.json()["version"], second.headers["etag"]) == (3, '"3"')
    assert (
        datetime.fromisoformat(full_case["updated_at"])
        < datetime.fromisoformat(first.json()["updated_at"])
        < datetime.fromisoformat(second.json()["updated_at"])
    )
    assert second.json()["created_at"] == full_case["created_at"]
    assert (await client.get(f"{API}/{full_case['id']}")).headers["etag"] == '"3"'


@pytest.mark.parametrize("if_match", ['"1"', "*", 'W/"1"'])
async def test_patch_with_a_matching_if_match_succeeds(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, if_match: str
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}", json={"description": "matched"}, headers={"If-Match": if_match}
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (await read_case(full_case["id"]))["description"] == "matched"


@pytest.mark.parametrize("if_match", ['"2"', '"0"', "garbage"])
async def test_patch_with_a_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, if_match: str
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}",
        json={"description": "too late", "tags": []},
        headers={"If-Match": if_match},
    )

    assert_problem(response, 412, "precondition_failed")
    assert await read_case(full_case["id"]) == full_case


async def test_patch_after_another_writer_with_the_old_etag_is_refused(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    etag = (await client.get(f"{API}/{full_case['id']}")).headers["etag"]
    first = await client.patch(
        f"{API}/{full_case['id']}", json={"description": "first"}, headers={"If-Match": etag}
    )
    assert first.status_code == 200, first.text

    second = await client.patch(
        f"{API}/{full_case['id']}", json={"description": "second"}, headers={"If-Match": etag}
    )

    assert_problem(second, 412, "precondition_failed")
    after = await read_case(full_case["id"])
    assert (after["description"], after["version"]) == ("first", 2)


async def test_patch_with_null_name_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}", json={"name": None, "description": "changed"}
    )

    assert_problem(response, 422, "validation_error")
    assert await read_case(full_case["id"]) == full_case


async def test_the_documented_patch_body_takes_a_name_as_a_string_never_null(
    request_body_schema: Callable[[str, str], Awaitable[JSON]],
) -> None:
    schema = await request_body_schema("patch", f"{API}/{{test_case_id}}")

    name = schema["properties"]["name"]
    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, 255)
    assert "anyOf" not in name
    assert "default" not in name
    assert "name" not in schema.get("required", [])
    # Optional texts may be cleared with null, and the schema says so.
    assert {"type": "null"} in schema["properties"]["description"]["anyOf"]


async def test_patch_with_steps_carrying_attachments_reads_them_back(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    steps = [{"action": "Open", "attachments": "screenshot-1.png"}, {"action": "Close"}]

    response = await client.patch(f"{API}/{full_case['id']}", json={"steps": steps})

    assert response.status_code == 200, response.text
    assert [(s["action"], s["attachments"]) for s in response.json()["steps"]] == [
        ("Open", "screenshot-1.png"),
        ("Close", None),
    ]
    assert await read_case(full_case["id"]) == response.json()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param({"name": ""}, ["body", "name"], id="empty-name"),
        pytest.param({"name": " \t "}, ["body", "name"], id="blank-name"),
        pytest.param({"name": "x" * 300}, ["body", "name"], id="300-character-name"),
        pytest.param({"name": 123}, ["body", "name"], id="number-name"),
        pytest.param({"description": ["a"]}, ["body", "description"], id="list-description"),
        pytest.param({"steps": "x"}, ["body", "steps"], id="steps-string"),
        pytest.param({"steps": [{"action": " "}]}, ["body", "steps", 0, "action"], id="blank"),
        pytest.param(
            {"steps": [{"action": "a", "position": "abc"}]},
            ["body", "steps", 0, "position"],
            id="text-position",
        ),
        pytest.param({"tags": "smoke"}, ["body", "tags"], id="tags-string"),
        pytest.param({"suite_links": [{}]}, ["body", "suite_links", 0], id="empty-link"),
        pytest.param(
            {"steps": [{"action": "a", "attachments": ["a.png"]}]},
            ["body", "steps", 0, "attachments"],
            id="attachments-list",
        ),
        pytest.param({"version": [[1]]}, ["body", "version"], id="read-only-version-list"),
        pytest.param({"suites": "API"}, ["body", "suites"], id="read-only-suites-string"),
    ],
)
async def test_patch_with_an_invalid_field_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, body: JSON, loc: list[Any]
) -> None:
    response = await client.patch(f"{API}/{full_case['id']}", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][: len(loc)] == loc
    assert await read_case(full_case["id"]) == full_case


@pytest.mark.parametrize(
    "content", [b"not json", b"[]", b'"description"', b""], ids=["text", "array", "string", "empty"]
)
async def test_patch_with_a_body_that_is_no_json_object_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, content: bytes
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}", content=content, headers={"content-type": "application/json"}
    )

    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code, response.json()["code"])
    assert await read_case(full_case["id"]) == full_case


async def test_patch_with_duplicate_step_positions_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    response = await client.patch(
        f"{API}/{full_case['id']}",
        json={"steps": [{"action": "a", "position": 2}, {"action": "b", "position": 2}]},
    )

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "steps", 1, "position"]
    assert await read_case(full_case["id"]) == full_case


async def test_patch_with_the_name_of_another_active_case_is_a_conflict_and_changes_nothing(
    client: httpx.AsyncClient, create_case: Factory, full_case: JSON, read_case: ReadCase
) -> None:
    other = await create_case()

    response = await client.patch(
        f"{API}/{full_case['id']}", json={"name": other["name"], "description": "changed"}
    )

    assert_problem(response, 409, "test_case_name_conflict")
    assert await read_case(full_case["id"]) == full_case


async def test_patch_of_a_missing_case_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{API}/{UNKNOWN_ID}", json={"description": "x"})

    assert_problem(response, 404, "test_case_not_found")


async def test_patch_of_a_deleted_case_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient, create_case: Factory
) -> None:
    case = await create_case(description="before")
    assert (await client.delete(f"{API}/{case['id']}")).status_code == 204

    response = await client.patch(f"{API}/{case['id']}", json={"description": "after"})

    assert_problem(response, 404, "test_case_not_found")
    listed = await client.get(API, params={"q": case["name"], "deleted": "only"})
    [item] = listed.json()["items"]
    assert (item["description"], item["version"]) == ("before", 2)


async def test_patch_with_an_id_beyond_int32_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{API}/{2**31}", json={"description": "x"})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "test_case_id"]


async def test_patch_with_a_misspelt_field_is_rejected_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase
) -> None:
    before = await read_case(full_case["id"])

    response = await client.patch(f"{API}/{full_case['id']}", json={"descripton": "typo"})

    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "descripton"] in [error["loc"] for error in problem["errors"]]
    assert await read_case(full_case["id"]) == before


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"steps": [{"action": "a", "attachments": "NESTED"}]}, id="attachments"),
        pytest.param({"name": "NESTED"}, id="name"),
        pytest.param({"expected_result": "NESTED"}, id="expected-result"),
        pytest.param({"suite_links": [{"suite_id": 1, "position": "NESTED"}]}, id="position"),
    ],
)
async def test_patch_with_json_nested_past_the_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, full_case: JSON, read_case: ReadCase, body: JSON, depth: int
) -> None:
    response = await send_quietly(
        client, "PATCH", f"{API}/{full_case['id']}", with_nested(body, depth)
    )

    assert_too_deep(response)
    assert await read_case(full_case["id"]) == full_case
