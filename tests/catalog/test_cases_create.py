from __future__ import annotations

from collections.abc import Callable

import httpx

from testops_kit.testing import assert_problem


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
