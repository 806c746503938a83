from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

Factory = Callable[..., Awaitable[dict[str, Any]]]


async def _list(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/tags", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_list_orders_tags_by_name(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("sorted")
    for suffix in ["c", "a", "b"]:
        await create_tag(name=f"{token}-{suffix}")

    page = await _list(client, q=token)

    assert [t["name"] for t in page["items"]] == [f"{token}-{s}" for s in "abc"]
    assert page["next_cursor"] is None


async def test_list_with_q_matches_a_case_insensitive_substring(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("needle")
    hit = await create_tag(name=f"area:{token.upper()}:api")
    await create_tag(name=unique("hay"))

    page = await _list(client, q=token)

    assert [t["id"] for t in page["items"]] == [hit["id"]]


async def test_list_with_q_takes_underscore_literally(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("lit")
    literal = await create_tag(name=f"{token}_x")
    await create_tag(name=f"{token}yx")

    page = await _list(client, q=f"{token}_")

    assert [t["id"] for t in page["items"]] == [literal["id"]]


async def test_list_counts_the_active_cases_carrying_each_tag(
    client: httpx.AsyncClient, create_case: Factory, unique: Callable[[str], str]
) -> None:
    busy, quiet = unique("busy"), unique("quiet")
    await create_case(tags=[busy, quiet])
    await create_case(tags=[busy])
    gone = await create_case(tags=[busy])
    assert (await client.delete(f"/api/v1/test-cases/{gone['id']}")).status_code == 204

    busy_page, quiet_page = await _list(client, q=busy), await _list(client, q=quiet)

    assert [(t["name"], t["case_count"]) for t in busy_page["items"]] == [(busy, 2)]
    assert [(t["name"], t["case_count"]) for t in quiet_page["items"]] == [(quiet, 1)]


async def test_list_shows_a_tag_without_cases_with_a_zero_count(
    client: httpx.AsyncClient, create_tag: Factory
) -> None:
    tag = await create_tag()

    page = await _list(client, q=tag["name"])

    assert page["items"] == [{"id": tag["id"], "name": tag["name"], "case_count": 0}]


async def test_list_paginates_by_cursor_without_gaps_or_repeats(
    client: httpx.AsyncClient, create_tag: Factory, unique: Callable[[str], str]
) -> None:
    token = unique("paged")
    created = [await create_tag(name=f"{token}-{i}") for i in range(5)]

    seen: list[int] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": token, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await _list(client, **params)
        seen += [t["id"] for t in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sizes == [2, 2, 1]
    assert seen == [t["id"] for t in created]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "%%%not-base64"}, "invalid_cursor"),
        ({"cursor": "eyJvIjoicG9zaXRpb24iLCJrIjpbMSwxXX0"}, "invalid_cursor"),  # position order
        ({"limit": 0}, "validation_error"),
        ({"limit": 501}, "validation_error"),
        ({"limit": "all"}, "validation_error"),
        ({"q": "x" * 256}, "validation_error"),
        ({"q": "nul\x00byte"}, "validation_error"),
    ],
)
async def test_list_with_a_bad_query_parameter_is_rejected(
    client: httpx.AsyncClient, params: dict[str, Any], code: str
) -> None:
    response = await client.get("/api/v1/tags", params=params)

    problem = assert_problem(response, 422, code)
    assert problem["errors"][0]["loc"] == ["query", next(iter(params))]
