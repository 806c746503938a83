"""At start-up the catalog deletes attachment objects that no attachment refers to (the bytes of
uploads whose process died before the row was written) once they are an hour old."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI

from testops_catalog.attachments import service
from testops_catalog.main import create_app
from testops_catalog.settings import CatalogSettings
from testops_kit.database import utcnow
from testops_kit.storage import Storage
from testops_kit.testing import app_client, principal_settings

Keys = Callable[[FastAPI], Awaitable[set[str]]]
TWO_HOURS = 2 * 60 * 60


class RunningCatalog(NamedTuple):
    app: FastAPI
    client: httpx.AsyncClient


def orphan_key() -> str:
    return f"{service.KEY_PREFIX}{uuid.uuid4().hex}"


async def create_case(client: httpx.AsyncClient) -> int:
    response = await client.post("/api/v1/test-cases", json={"name": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    case_id: int = response.json()["id"]
    return case_id


async def upload(client: httpx.AsyncClient, case_id: int, content: bytes) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/test-cases/{case_id}/attachments", files={"file": ("kept.txt", content)}
    )
    assert response.status_code == 201, response.text
    attachment: dict[str, Any] = response.json()
    return attachment


@pytest.fixture(scope="module")
def sweep_settings(storage_catalog_settings: Callable[..., CatalogSettings]) -> CatalogSettings:
    return storage_catalog_settings("catalog_sweep")


@pytest.fixture(scope="module")
async def running(sweep_settings: CatalogSettings) -> AsyncIterator[RunningCatalog]:
    """A running catalog on the session's storage backend, with a storage of its own."""
    app = create_app(sweep_settings)
    async with app_client(app) as client:
        yield RunningCatalog(app, client)


async def test_objects_without_an_attachment_written_before_the_cutoff_are_deleted(
    running: RunningCatalog, object_keys: Keys
) -> None:
    storage: Storage = running.app.state.storage
    before = await object_keys(running.app)
    attachment = await upload(running.client, await create_case(running.client), b"attached")
    (attached,) = await object_keys(running.app) - before
    orphans = {orphan_key(), orphan_key()}
    for key in orphans:
        await storage.put_bytes(key, b"left by a dead upload")

    removed = await service.sweep_orphaned_objects(
        database=running.app.state.database,
        storage=storage,
        older_than=utcnow() + timedelta(minutes=1),
    )

    after = await object_keys(running.app)
    assert removed >= len(orphans)
    assert orphans.isdisjoint(after)
    assert attached in after
    content = await running.client.get(
        f"/api/v1/test-cases/{attachment['test_case_id']}/attachments/{attachment['id']}/content"
    )
    assert content.content == b"attached"


async def test_objects_outside_the_attachment_prefix_are_left_alone(
    running: RunningCatalog,
) -> None:
    storage: Storage = running.app.state.storage
    await storage.put_bytes("reports/other-owner.html", b"<html></html>")

    await service.sweep_orphaned_objects(
        database=running.app.state.database,
        storage=storage,
        older_than=utcnow() + timedelta(minutes=1),
    )

    assert await storage.exists("reports/other-owner.html")


async def test_a_recent_orphan_survives_a_restart_as_its_upload_may_be_in_flight(
    running: RunningCatalog, sweep_settings: CatalogSettings, object_keys: Keys
) -> None:
    key = orphan_key()
    await running.app.state.storage.put_bytes(key, b"still uploading")

    restarted = create_app(sweep_settings)
    async with app_client(restarted):
        assert key in await object_keys(restarted)


@pytest.fixture
def file_settings(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> tuple[CatalogSettings, Path]:
    """Settings of a catalog on a local folder, whose objects' times can be set back."""
    blobs = tmp_path / "blobs"
    settings = CatalogSettings(
        database_url=database_url_factory("catalog_sweep_file"),
        storage_url=f"file://{blobs}",
        data_dir=tmp_path,
        **principal_settings(),
    )
    return settings, blobs


def set_back(path: Path, seconds: float) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


async def test_at_start_up_orphans_older_than_an_hour_are_deleted_and_the_rest_kept(
    file_settings: tuple[CatalogSettings, Path], object_keys: Keys
) -> None:
    settings, blobs = file_settings
    old_orphan, young_orphan = orphan_key(), orphan_key()
    first = create_app(settings)
    async with app_client(first) as client:
        attachment = await upload(client, await create_case(client), b"old but attached")
        (attached,) = await object_keys(first)
        for key in (old_orphan, young_orphan):
            await first.state.storage.put_bytes(key, b"orphan")
    set_back(blobs / old_orphan, TWO_HOURS)
    set_back(blobs / young_orphan, 30 * 60)
    set_back(blobs / attached, TWO_HOURS)

    second = create_app(settings)
    async with app_client(second) as client:
        assert await object_keys(second) == {attached, young_orphan}
        content = await client.get(
            f"/api/v1/test-cases/{attachment['test_case_id']}"
            f"/attachments/{attachment['id']}/content"
        )
        assert content.content == b"old but attached"
