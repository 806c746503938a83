"""GET /test-cases/{id}/attachments/{attachment_id}, on each storage backend."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from testops_kit.testing import assert_problem

JSON = dict[str, Any]


def url(case_id: int, attachment_id: int) -> str:
    return f"/api/v1/test-cases/{case_id}/attachments/{attachment_id}"


async def test_get_returns_the_metadata_the_upload_returned(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    attachment = await attach(attachments_case_id, b"metadata", "meta.txt", "text/plain")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body == attachment
    assert body["test_case_id"] == attachments_case_id
    assert body["filename"] == "meta.txt"
    assert body["content_type"] == "text/plain"
    assert body["size"] == 8
    assert body["sha256"] == hashlib.sha256(b"metadata").hexdigest()


async def test_an_unknown_attachment_is_not_found(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.get(url(attachments_case_id, 2_000_000_000))

    assert_problem(response, 404, "attachment_not_found")


async def test_an_attachment_of_another_case_is_not_found_under_this_one(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
    unique: Callable[[str], str],
) -> None:
    other = await attachments_client.post("/api/v1/test-cases", json={"name": unique("case")})
    attachment = await attach(other.json()["id"])

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert_problem(response, 404, "attachment_not_found")


async def test_get_under_a_missing_case_is_test_case_not_found(
    attachments_client: httpx.AsyncClient,
) -> None:
    response = await attachments_client.get(url(2_000_000_000, 1))

    assert_problem(response, 404, "test_case_not_found")


async def test_get_under_a_deleted_case_is_test_case_not_found(
    attachments_client: httpx.AsyncClient, deleted_case_id: int
) -> None:
    response = await attachments_client.get(url(deleted_case_id, 1))

    assert_problem(response, 404, "test_case_not_found")


async def test_an_id_out_of_range_is_a_validation_error(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.get(url(attachments_case_id, 0))

    assert_problem(response, 422, "validation_error")
