"""GET /test-cases/{id}/attachments/{attachment_id}/content, on each storage backend."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from testops_kit.storage import Storage
from testops_kit.testing import assert_problem

JSON = dict[str, Any]
MIB = 1024 * 1024


def url(case_id: int, attachment_id: int) -> str:
    return f"/api/v1/test-cases/{case_id}/attachments/{attachment_id}/content"


async def test_megabytes_of_random_bytes_come_back_byte_identical(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    # Past the S3 multipart part size (8 MiB) and not a whole number of 1 MiB chunks.
    content = os.urandom(9 * MIB + 12345)
    attachment = await attach(attachments_case_id, content, "video.webm")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.status_code == 200
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == attachment["sha256"] == hashlib.sha256(content).hexdigest()
    assert len(response.content) == attachment["size"] == len(content)


async def test_a_binary_file_with_every_byte_value_comes_back_unchanged(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    # Every byte value, line breaks and what looks like a multipart boundary.
    content = bytes(range(256)) * 64 + b"\r\n--boundary--\r\n\x00"
    attachment = await attach(attachments_case_id, content, "blob.bin")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.content == content


async def test_content_has_the_attachments_type_length_name_and_sha256_etag(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    attachment = await attach(attachments_case_id, b"%PDF-1.7", "report.pdf", "application/pdf")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == "8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response.headers["ETag"] == f'"{attachment["sha256"]}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_text_attachment_is_sent_without_a_charset_added(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    latin1 = "Grüße".encode("latin-1")
    attachment = await attach(attachments_case_id, latin1, "legacy.txt", "text/plain")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.headers["Content-Type"] == "text/plain"
    assert response.content == latin1


async def test_an_empty_attachment_has_no_bytes_and_length_zero(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    attachment = await attach(attachments_case_id, b"", "empty.log")

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"


async def test_a_non_ascii_name_is_sent_as_rfc_5987_filename_star_with_an_ascii_fallback(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
) -> None:
    name = "Prüfbericht 報告 ✓.txt"
    attachment = await attach(attachments_case_id, b"x", name)

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert response.headers["Content-Disposition"] == (
        "attachment; "
        'filename="Prufbericht __ _.txt"; '
        "filename*=UTF-8''Pr%C3%BCfbericht%20%E5%A0%B1%E5%91%8A%20%E2%9C%93.txt"
    )
    assert quote(name, safe="") in response.headers["Content-Disposition"]


async def test_content_of_an_unknown_attachment_is_not_found(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.get(url(attachments_case_id, 2_000_000_000))

    assert_problem(response, 404, "attachment_not_found")


async def test_content_under_a_deleted_case_is_test_case_not_found(
    attachments_client: httpx.AsyncClient, deleted_case_id: int
) -> None:
    response = await attachments_client.get(url(deleted_case_id, 1))

    assert_problem(response, 404, "test_case_not_found")


async def test_content_whose_object_is_gone_from_storage_is_attachment_not_found(
    attachments_client: httpx.AsyncClient,
    attachments_app: FastAPI,
    attachments_case_id: int,
    attach: Callable[..., Awaitable[JSON]],
    object_keys: Callable[[FastAPI], Awaitable[set[str]]],
) -> None:
    before = await object_keys(attachments_app)
    attachment = await attach(attachments_case_id, b"lost")
    (key,) = await object_keys(attachments_app) - before
    storage: Storage = attachments_app.state.storage
    await storage.delete(key)

    response = await attachments_client.get(url(attachments_case_id, attachment["id"]))

    assert_problem(response, 404, "attachment_not_found")
