"""DELETE /test-cases/{id}/attachments/{attachment_id}, on each storage backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from testops_kit.testing import assert_problem

JSON = dict[str, Any]
Keys = Callable[[FastAPI], Awaitable[set[str]]]


def url(case_id: int, attachment_id: int) -> str:
    return f"/api/v1/test-cases/{case_id}/attachments/{attachment_id}"


async def test_delete_removes_the_attachment(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    gone = await attach(attachments_case_id, b"gone")
    kept = await attach(attachments_case_id, b"kept")

    response = await attachments_client.delete(url(attachments_case_id, gone["id"]))

    assert response.status_code == 204, response.text
    assert response.content == b""
    read = await attachments_client.get(url(attachments_case_id, gone["id"]))
    assert_problem(read, 404, "attachment_not_found")
    listed = await attachments_client.get(f"/api/v1/test-cases/{attachments_case_id}/attachments")
    assert listed.json()["items"] == [kept]


async def test_delete_removes_exactly_its_object_from_storage(
    attachments_client: httpx.AsyncClient,
    attachments_app: FastAPI,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
    object_keys: Keys,
) -> None:
    before = await object_keys(attachments_app)
    # The same bytes twice: objects are not shared by content, so one delete leaves the other.
    gone = await attach(attachments_case_id, b"same")
    kept = await attach(attachments_case_id, b"same")
    uploaded = await object_keys(attachments_app) - before

    await attachments_client.delete(url(attachments_case_id, gone["id"]))

    left = await object_keys(attachments_app) - before
    assert len(uploaded) == 2
    assert len(left) == 1
    assert left < uploaded
    content = await attachments_client.get(f"{url(attachments_case_id, kept['id'])}/content")
    assert content.content == b"same"


async def test_deleting_an_attachment_twice_is_not_found_the_second_time(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    attachment = await attach(attachments_case_id)
    first = await attachments_client.delete(url(attachments_case_id, attachment["id"]))
    assert first.status_code == 204, first.text

    second = await attachments_client.delete(url(attachments_case_id, attachment["id"]))

    assert_problem(second, 404, "attachment_not_found")


async def test_delete_of_an_unknown_attachment_is_not_found(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.delete(url(attachments_case_id, 2_000_000_000))

    assert_problem(response, 404, "attachment_not_found")


async def test_delete_under_another_case_is_not_found_and_keeps_the_attachment(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
    unique: Callable[[str], str],
) -> None:
    other = await attachments_client.post("/api/v1/test-cases", json={"name": unique("case")})
    attachment = await attach(attachments_case_id)

    response = await attachments_client.delete(url(other.json()["id"], attachment["id"]))

    assert_problem(response, 404, "attachment_not_found")
    read = await attachments_client.get(url(attachments_case_id, attachment["id"]))
    assert read.status_code == 200, read.text


async def test_delete_under_a_missing_case_is_test_case_not_found(
    attachments_client: httpx.AsyncClient,
) -> None:
    response = await attachments_client.delete(url(2_000_000_000, 1))

    assert_problem(response, 404, "test_case_not_found")


async def test_delete_under_a_deleted_case_is_test_case_not_found(
    attachments_client: httpx.AsyncClient, deleted_case_id: int
) -> None:
    response = await attachments_client.delete(url(deleted_case_id, 1))

    assert_problem(response, 404, "test_case_not_found")
