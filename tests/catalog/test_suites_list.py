from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


def _cursor(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _list(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/suites", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_list_filters_by_parent_id(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    parent, other_parent = await create_suite(), await create_suite()
    token = unique("kid")
    kids = [await create_suite(name=f"{token} {i}", parent_id=parent["id"]) for i in range(2)]
    await create_suite(name=f"{token} other", parent_id=other_parent["id"])
    grandchild = await create_suite(parent_id=kids[0]["id"])

    page = await _list(client, parent_id=parent["id"])

    assert [s["id"] for s in page["items"]] == [k["id"] for k in kids]
    assert all(s["parent_id"] == parent["id"] for s in page["items"])
    assert grandchild["id"] not in [s["id"] for s in page["items"]]
    assert page["next_cursor"] is None


async def test_list_with_root_true_shows_only_root_suites(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("rooted")
    root = await create_suite(name=f"{token} root")
    await create_suite(name=f"{token} child", parent_id=root["id"])

    page = await _list(client, root="true", q=token)

    assert [s["id"] for s in page["items"]] == [root["id"]]
    assert page["items"][0]["parent_id"] is None
    everything = await _list(client, q=token)
    assert len(everything["items"]) == 2


async def test_list_with_q_matches_a_case_insensitive_substring_of_the_name(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("needle")
    hit = await create_suite(name=f"Checkout {token.upper()} flow")
    await create_suite(name=unique("haystack"))

    page = await _list(client, q=token)

    assert [s["id"] for s in page["items"]] == [hit["id"]]


async def test_list_with_q_takes_percent_and_underscore_literally(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("lit")
    literal = await create_suite(name=f"{token} 100%_done")
    await create_suite(name=f"{token} 100xxdone")

    page = await _list(client, q=f"{token} 100%_")

    assert [s["id"] for s in page["items"]] == [literal["id"]]


async def test_list_orders_suites_by_name(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("order")
    for letter in ["c", "a", "b"]:
        await create_suite(name=f"{token} {letter}")

    page = await _list(client, q=token)

    assert [s["name"] for s in page["items"]] == [f"{token} {x}" for x in ["a", "b", "c"]]


async def test_list_leaves_out_deleted_suites(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("gone")
    kept = await create_suite(name=f"{token} kept")
    deleted = await create_suite(name=f"{token} deleted")
    assert (await client.delete(f"/api/v1/suites/{deleted['id']}")).status_code == 204

    page = await _list(client, q=token)

    assert [s["id"] for s in page["items"]] == [kept["id"]]


async def test_list_case_count_counts_only_active_linked_cases(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    cases = [await create_case() for _ in range(3)]
    for case in cases:
        linked = await client.post(
            f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": case["id"]}
        )
        assert linked.status_code == 201, linked.text
    assert (await client.delete(f"/api/v1/test-cases/{cases[0]['id']}")).status_code == 204

    page = await _list(client, q=suite["name"])

    assert [(s["id"], s["case_count"]) for s in page["items"]] == [(suite["id"], 2)]


async def test_list_paginates_by_cursor_without_gaps_or_repeats(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("paged")
    created = [await create_suite(name=f"{token} {i}") for i in range(5)]

    seen: list[int] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": token, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await _list(client, **params)
        seen += [s["id"] for s in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sizes == [2, 2, 1]
    assert seen == [s["id"] for s in created]


async def test_list_page_that_is_exactly_full_has_no_next_cursor(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("full")
    for i in range(2):
        await create_suite(name=f"{token} {i}")

    page = await _list(client, q=token, limit=2)

    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


async def test_list_combines_parent_id_and_q(
    client: httpx.AsyncClient, create_suite: Factory, unique: Callable[[str], str]
) -> None:
    parent = await create_suite()
    hit = await create_suite(name=unique("alpha"), parent_id=parent["id"])
    await create_suite(name=unique("beta"), parent_id=parent["id"])

    page = await _list(client, parent_id=parent["id"], q="alpha")

    assert [s["id"] for s in page["items"]] == [hit["id"]]


async def test_list_children_of_an_unknown_suite_is_empty(client: httpx.AsyncClient) -> None:
    page = await _list(client, parent_id=2_147_483_647)

    assert page == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!!",
        "bm90IGpzb24",  # base64 of "not json"
        _cursor(["a", 1]),
        _cursor({"o": "position", "k": [1, 1]}),
        _cursor({"o": "name", "k": ["a"]}),
        _cursor({"o": "name", "k": [1, 1]}),
        _cursor({"o": "name", "k": ["a", "b"]}),
    ],
)
async def test_list_with_a_bad_cursor_is_rejected(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/api/v1/suites", params={"cursor": cursor})

    problem = assert_problem(response, 422, "invalid_cursor")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_with_a_cursor_of_another_listing_is_rejected(
    client: httpx.AsyncClient, create_suite: Factory, create_case: Factory
) -> None:
    suite = await create_suite()
    for _ in range(2):
        case = await create_case()
        linked = await client.post(
            f"/api/v1/suites/{suite['id']}/cases", json={"test_case_id": case["id"]}
        )
        assert linked.status_code == 201, linked.text
    members = await client.get(f"/api/v1/suites/{suite['id']}/cases", params={"limit": 1})
    cursor = members.json()["next_cursor"]
    assert cursor

    response = await client.get("/api/v1/suites", params={"cursor": cursor})

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
async def test_list_with_a_cursor_holding_an_id_beyond_32_bits_is_rejected(
    client: httpx.AsyncClient, huge: int
) -> None:
    response = await client.get(
        "/api/v1/suites", params={"cursor": _cursor({"o": "name", "k": ["a", huge]})}
    )

    assert_problem(response, 422, "invalid_cursor")


async def test_list_with_a_cursor_holding_a_nul_character_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/v1/suites", params={"cursor": _cursor({"o": "name", "k": ["a\x00", 1]})}
    )

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 501}, ["query", "limit"]),
        ({"limit": "ten"}, ["query", "limit"]),
        ({"root": "maybe"}, ["query", "root"]),
        ({"parent_id": "abc"}, ["query", "parent_id"]),
        ({"parent_id": 0}, ["query", "parent_id"]),
        ({"parent_id": 2**31}, ["query", "parent_id"]),
        ({"q": "x" * 256}, ["query", "q"]),
        ({"q": "nul\x00byte"}, ["query", "q"]),
    ],
)
async def test_list_with_a_bad_query_parameter_is_rejected(
    client: httpx.AsyncClient, params: dict[str, Any], loc: list[str]
) -> None:
    response = await client.get("/api/v1/suites", params=params)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
