"""POST /test-cases/{id}/attachments, on each storage backend."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from testops_catalog.attachments import service
from testops_catalog.attachments.errors import AttachmentTooLarge
from testops_catalog.main import create_app
from testops_catalog.settings import CatalogSettings
from testops_catalog.test_cases.errors import CaseNotFound
from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.testing import app_client, assert_problem

JSON = dict[str, Any]
Keys = Callable[[FastAPI], Awaitable[set[str]]]
CAP = 64 * 1024


class RunningCatalog(NamedTuple):
    app: FastAPI
    client: httpx.AsyncClient


def multipart(disposition: str, content: bytes, content_type: str | None = None) -> JSON:
    """Keyword arguments of a POST whose one part is written by hand (httpx would tidy it)."""
    boundary = "attachment-boundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; {disposition}\r\n'
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    body = head.encode() + b"\r\n" + content + f"\r\n--{boundary}--\r\n".encode()
    return {
        "content": body,
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    }


def url(case_id: int) -> str:
    return f"/api/v1/test-cases/{case_id}/attachments"


@pytest.fixture(scope="module")
def capped_settings(storage_catalog_settings: Callable[..., CatalogSettings]) -> CatalogSettings:
    return storage_catalog_settings("catalog_capped", max_attachment_bytes=CAP)


@pytest.fixture(scope="module")
async def capped(capped_settings: CatalogSettings) -> AsyncIterator[RunningCatalog]:
    """A catalog that takes attachments of at most ``CAP`` bytes, with a storage of its own."""
    app = create_app(capped_settings)
    async with app_client(app) as client:
        yield RunningCatalog(app, client)


@pytest.fixture
async def capped_case_id(capped: RunningCatalog, unique: Callable[[str], str]) -> int:
    response = await capped.client.post("/api/v1/test-cases", json={"name": unique("case")})
    assert response.status_code == 201, response.text
    case_id: int = response.json()["id"]
    return case_id


async def test_upload_returns_the_attachment_with_its_size_and_sha256(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    content = os.urandom(3000)
    before = datetime.now(UTC)

    response = await attachments_client.post(
        url(attachments_case_id), files={"file": ("trace.bin", content, "application/x-trace")}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "test_case_id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "created_at",
    }
    assert body["test_case_id"] == attachments_case_id
    assert body["filename"] == "trace.bin"
    assert body["content_type"] == "application/x-trace"
    assert body["size"] == 3000
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert datetime.fromisoformat(body["created_at"]) >= before.replace(microsecond=0)
    assert response.headers["Location"] == f"{url(attachments_case_id)}/{body['id']}"


async def test_upload_can_be_read_back_at_its_location(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), files={"file": ("a.txt", b"abc")}
    )

    read = await attachments_client.get(response.headers["Location"])
    assert read.status_code == 200, read.text
    assert read.json() == response.json()


async def test_each_upload_stores_one_new_object(
    attach: Callable[..., Awaitable[JSON]],
    attachments_case_id: int,
    attachments_app: FastAPI,
    object_keys: Keys,
) -> None:
    before = await object_keys(attachments_app)

    await attach(attachments_case_id, b"same bytes")
    await attach(attachments_case_id, b"same bytes")

    assert len(await object_keys(attachments_app) - before) == 2


async def test_an_empty_file_is_accepted_with_size_zero(
    attach: Callable[..., Awaitable[JSON]], attachments_case_id: int
) -> None:
    attachment = await attach(attachments_case_id, b"", filename="empty.txt")

    assert attachment["size"] == 0
    assert attachment["sha256"] == hashlib.sha256(b"").hexdigest()


async def test_the_content_type_of_the_part_is_kept(
    attach: Callable[..., Awaitable[JSON]], attachments_case_id: int
) -> None:
    attachment = await attach(
        attachments_case_id, b"{}", filename="data.bin", content_type="application/json"
    )

    assert attachment["content_type"] == "application/json"


async def test_without_a_content_type_it_is_guessed_from_the_file_name(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), **multipart('filename="screen.png"', b"\x89PNG\r\n")
    )

    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "image/png"


async def test_an_unknown_file_type_without_a_content_type_is_octet_stream(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), **multipart('filename="dump.unknownext"', b"\x00\x01")
    )

    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "application/octet-stream"


async def test_a_malformed_content_type_is_replaced_by_a_guess(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), **multipart('filename="notes.txt"', b"hi", "not a type")
    )

    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "text/plain"


async def test_the_file_name_is_trimmed_and_otherwise_kept_as_given(
    attach: Callable[..., Awaitable[JSON]], attachments_case_id: int
) -> None:
    attachment = await attach(attachments_case_id, b"x", filename="  Résumé (final) v2.txt  ")

    assert attachment["filename"] == "Résumé (final) v2.txt"


@pytest.mark.parametrize("filename", ["../x", "a/b", "a\\b", "/etc/passwd", "..", "."])
async def test_a_file_name_with_a_path_part_is_refused_as_unsafe(
    attachments_client: httpx.AsyncClient,
    attachments_case_id: int,
    attachments_app: FastAPI,
    object_keys: Keys,
    filename: str,
) -> None:
    before = await object_keys(attachments_app)

    response = await attachments_client.post(
        url(attachments_case_id), files={"file": (filename, b"x")}
    )

    assert_problem(response, 422, "unsafe_path")
    assert await object_keys(attachments_app) == before


@pytest.mark.parametrize("filename", ["", "   "])
async def test_an_empty_file_name_is_refused_as_unsafe(
    attachments_client: httpx.AsyncClient, attachments_case_id: int, filename: str
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), **multipart(f'filename="{filename}"', b"x", "text/plain")
    )

    assert_problem(response, 422, "unsafe_path")


async def test_a_file_name_with_a_control_character_is_refused_as_unsafe(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), **multipart('filename="a\tb.txt"', b"x", "text/plain")
    )

    assert_problem(response, 422, "unsafe_path")


async def test_a_file_name_longer_than_255_characters_is_refused(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(
        url(attachments_case_id), files={"file": ("a" * 252 + ".txt", b"x")}
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "file"]


async def test_a_request_without_the_file_field_is_a_validation_error(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(url(attachments_case_id), data={"other": "x"})

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "file"]


async def test_a_file_field_that_is_not_a_file_is_a_validation_error(
    attachments_client: httpx.AsyncClient, attachments_case_id: int
) -> None:
    response = await attachments_client.post(url(attachments_case_id), data={"file": "text"})

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"not multipart at all", "multipart/form-data; boundary=zz", id="garbage"),
        pytest.param(b"--zz\r\n", "multipart/form-data", id="no-boundary"),
    ],
)
async def test_a_body_that_is_not_the_multipart_it_says_is_a_validation_error_at_body(
    attachments_client: httpx.AsyncClient,
    attachments_app: FastAPI,
    attachments_case_id: int,
    object_keys: Keys,
    content: bytes,
    content_type: str,
) -> None:
    before = await object_keys(attachments_app)

    response = await attachments_client.post(
        url(attachments_case_id), content=content, headers={"Content-Type": content_type}
    )

    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body"]]
    assert await object_keys(attachments_app) == before


async def test_an_upload_to_a_missing_case_is_not_found_and_stores_nothing(
    attachments_client: httpx.AsyncClient, attachments_app: FastAPI, object_keys: Keys
) -> None:
    before = await object_keys(attachments_app)

    response = await attachments_client.post(url(2_000_000_000), files={"file": ("a.txt", b"x")})

    assert_problem(response, 404, "test_case_not_found")
    assert await object_keys(attachments_app) == before


async def test_an_upload_to_a_deleted_case_is_not_found_and_stores_nothing(
    attachments_client: httpx.AsyncClient,
    deleted_case_id: int,
    attachments_app: FastAPI,
    object_keys: Keys,
) -> None:
    before = await object_keys(attachments_app)

    response = await attachments_client.post(url(deleted_case_id), files={"file": ("a.txt", b"x")})

    assert_problem(response, 404, "test_case_not_found")
    assert await object_keys(attachments_app) == before


async def test_an_upload_over_the_cap_is_413_and_leaves_nothing_behind(
    capped: RunningCatalog, capped_case_id: int, object_keys: Keys
) -> None:
    before = await object_keys(capped.app)

    response = await capped.client.post(
        url(capped_case_id), files={"file": ("big.bin", os.urandom(CAP + 1))}
    )

    assert_problem(response, 413, "attachment_too_large")
    assert await object_keys(capped.app) == before
    listed = await capped.client.get(url(capped_case_id))
    assert listed.json()["items"] == []


async def test_an_upload_of_exactly_the_cap_is_accepted(
    capped: RunningCatalog, capped_case_id: int, object_keys: Keys
) -> None:
    response = await capped.client.post(
        url(capped_case_id), files={"file": ("cap.bin", b"c" * CAP)}
    )

    assert response.status_code == 201, response.text
    assert response.json()["size"] == CAP


async def test_bytes_that_grow_past_the_cap_while_streaming_are_cut_off_leaving_nothing(
    capped: RunningCatalog, capped_case_id: int, object_keys: Keys
) -> None:
    """The announced size may be absent or wrong: the bytes counted on the way decide."""
    before = await object_keys(capped.app)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(CAP // 1024 + 1):
            yield os.urandom(1024)

    with pytest.raises(AttachmentTooLarge):
        await service.upload_attachment(
            database=capped.app.state.database,
            storage=capped.app.state.storage,
            project=DEFAULT_PROJECT,
            case_id=capped_case_id,
            filename="growing.bin",
            content_type=None,
            chunks=chunks(),
            size_hint=None,
            max_bytes=CAP,
        )

    assert await object_keys(capped.app) == before


async def test_the_object_is_deleted_again_when_its_row_cannot_be_written(
    capped: RunningCatalog, capped_case_id: int, object_keys: Keys
) -> None:
    """The case is deleted while the bytes travel: the row is refused, the object removed."""
    before = await object_keys(capped.app)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first half, "
        response = await capped.client.delete(f"/api/v1/test-cases/{capped_case_id}")
        assert response.status_code == 204, response.text
        yield b"second half"

    with pytest.raises(CaseNotFound):
        await service.upload_attachment(
            database=capped.app.state.database,
            storage=capped.app.state.storage,
            project=DEFAULT_PROJECT,
            case_id=capped_case_id,
            filename="late.txt",
            content_type=None,
            chunks=chunks(),
            size_hint=None,
            max_bytes=CAP,
        )

    assert await object_keys(capped.app) == before
