"""GET /test-cases/{id}/attachments, on each storage backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

JSON = dict[str, Any]


def url(case_id: int) -> str:
    return f"/api/v1/test-cases/{case_id}/attachments"


async def test_list_returns_the_attachments_of_the_case_in_upload_order(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    first = await attach(attachments_case_id, b"1", filename="one.txt")
    second = await attach(attachments_case_id, b"22", filename="two.txt")

    response = await attachments_client.get(url(attachments_case_id))

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [first, second], "next_cursor": None}


async def test_a_case_without_attachments_lists_none(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.get(url(attachments_case_id))

    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_list_shows_only_the_attachments_of_that_case(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
    unique: Callable[[str], str],
) -> None:
    other = await attachments_client.post("/api/v1/test-cases", json={"name": unique("case")})
    await attach(other.json()["id"], b"elsewhere")
    mine = await attach(attachments_case_id, b"here")

    response = await attachments_client.get(url(attachments_case_id))

    assert [item["id"] for item in response.json()["items"]] == [mine["id"]]


async def test_pages_with_a_cursor_reach_every_attachment_once_in_order(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    uploaded = [await attach(attachments_case_id, bytes([n]), f"{n}.bin") for n in range(5)]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0

    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await attachments_client.get(url(attachments_case_id), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == [attachment["id"] for attachment in uploaded]
    assert pages == 3


async def test_a_cursor_this_listing_did_not_issue_is_refused(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.get(
        url(attachments_case_id), params={"cursor": "not-a-cursor"}
    )

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize("limit", [0, 501])
async def test_a_limit_out_of_range_is_a_validation_error(
    attachments_client: httpx.AsyncClient, attachments_case_id: int, limit: int
) -> None:
    response = await attachments_client.get(url(attachments_case_id), params={"limit": limit})

    assert_problem(response, 422, "validation_error")


async def test_list_of_a_missing_case_is_not_found(attachments_client: httpx.AsyncClient) -> None:
    response = await attachments_client.get(url(2_000_000_000))

    assert_problem(response, 404, "test_case_not_found")


async def test_list_of_a_deleted_case_is_not_found(
    attachments_client: httpx.AsyncClient, deleted_case_id: int
) -> None:
    response = await attachments_client.get(url(deleted_case_id))

    assert_problem(response, 404, "test_case_not_found")


async def test_a_deleted_case_keeps_its_attachments_for_when_it_is_restored(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    attachment = await attach(attachments_case_id, b"kept")
    deleted = await attachments_client.delete(f"/api/v1/test-cases/{attachments_case_id}")
    assert deleted.status_code == 204, deleted.text

    restored = await attachments_client.post(f"/api/v1/test-cases/{attachments_case_id}/restore")

    assert restored.status_code == 200, restored.text
    response = await attachments_client.get(url(attachments_case_id))
    assert response.json()["items"] == [attachment]
    content = await attachments_client.get(f"{url(attachments_case_id)}/{attachment['id']}/content")
    assert content.content == b"kept"
