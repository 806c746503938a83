"""Abandoned uploads: what a dead or silent ingest left behind is released, nothing else is.

An upload in progress is an ``uploads`` row, its claims (``upload_blobs``) and the objects it
wrote. Here those are made the way an ingest makes them (``blobs.register``, ``blobs.claim``,
objects under ``blobs.blob_key``/``blobs.raw_key``), then handed to an owner that is gone: a
process of this host that has exited, or one elsewhere that stopped reporting. The sweep at
start-up and the periodic sweep must release exactly those uploads and only the objects nothing
else refers to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from tests.results.results_api import API, JSON, every_item, folder_files, post_run_with

from testops_kit.database import Database, utcnow
from testops_kit.processes import pid_alive
from testops_kit.storage import Storage
from testops_kit.testing import app_client, wait_for
from testops_results.main import create_app
from testops_results.models import Blob, RunUpload, Upload, UploadBlob
from testops_results.settings import ResultsSettings
from testops_results.uploads import blobs

ELSEWHERE = "build-agent-7.elsewhere.invalid"
"""A host that is not this one: the sweep cannot look at its processes, only at heartbeats."""


@dataclass
class Content:
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def key(self) -> str:
        return blobs.blob_key(self.sha256)


def new_content(label: str) -> Content:
    return Content(f"{label} {os.urandom(16).hex()}".encode() * 50)


def dead_pid() -> int:
    """The id of a process of this host that has certainly exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert not pid_alive(child.pid)
    return child.pid


@pytest.fixture
def live_child() -> Iterator[subprocess.Popen[bytes]]:
    """A process of this host that stays alive for the test (another ingest, as far as the
    sweep can tell)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


@pytest.fixture
def sweep_settings(results_settings_factory: Callable[..., ResultsSettings]) -> ResultsSettings:
    """A new database and storage of their own: two apps in turn share them."""
    return results_settings_factory("sweep")


@pytest.fixture
def lease_settings(results_settings_factory: Callable[..., ResultsSettings]) -> ResultsSettings:
    return results_settings_factory("sweep-lease", upload_lease_s=5)


@pytest.fixture
async def observer(sweep_settings: ResultsSettings) -> AsyncIterator[Database]:
    """The database as a bystander sees it, between and across the apps' lifetimes."""
    database = Database(sweep_settings.resolved_database_url)
    try:
        yield database
    finally:
        await database.dispose()


# --- an upload in progress, made as an ingest makes it


async def start_upload(
    app: FastAPI,
    contents: list[Content],
    *,
    owner: str,
    heartbeat_age: timedelta = timedelta(0),
    write: list[Content] | None = None,
) -> str:
    """Register an upload, claim ``contents``, write the objects of ``write`` (default: all of
    them) and the upload's raw object; then hand the upload to ``owner``."""
    database: Database = app.state.database
    storage: Storage = app.state.storage
    upload_id = await blobs.register(database)
    await blobs.claim(database, upload_id, {c.sha256: len(c.data) for c in contents})
    for content in contents if write is None else write:
        if not await storage.exists(content.key):
            await storage.put_bytes(content.key, content.data)
    await storage.put_bytes(blobs.raw_key(upload_id), b"raw " + upload_id.encode())
    async with database.session(write=True) as session:
        await session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(owner=owner, heartbeat_at=utcnow() - heartbeat_age)
        )
    return upload_id


async def upload_ids(database: Database) -> set[str]:
    async with database.session() as session:
        return set((await session.scalars(select(Upload.id))).all())


async def claims_of(database: Database, upload_id: str) -> set[str]:
    async with database.session() as session:
        rows = await session.scalars(
            select(UploadBlob.sha256).where(UploadBlob.upload_id == upload_id)
        )
        return set(rows.all())


async def blob_rows(database: Database, shas: set[str]) -> set[str]:
    async with database.session() as session:
        return set((await session.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas)))).all())


async def object_keys(storage: Storage) -> set[str]:
    return {info.key async for info in storage.list("")}


async def upload_standard_run(client: httpx.AsyncClient, folder: Path) -> tuple[JSON, list[JSON]]:
    response = await post_run_with(client, folder_files(folder))
    assert response.status_code == 201, response.text
    run: JSON = response.json()
    attachments = await every_item(client, f"{API}/runs/{run['id']}/attachments")
    assert attachments
    return run, attachments


async def content_of(client: httpx.AsyncClient, attachment: JSON) -> bytes:
    response = await client.get(f"{API}/attachments/{attachment['id']}/content")
    assert response.status_code == 200, response.text
    return response.content


# --- the sweep at start-up


async def test_start_up_releases_an_upload_whose_process_died_and_keeps_what_others_use(
    sweep_settings: ResultsSettings,
    observer: Database,
    allure_results: Path,
    live_child: subprocess.Popen[bytes],
) -> None:
    host = socket.gethostname()
    own_a, own_b = new_content("only the dead upload"), new_content("only the dead upload too")
    with_live = new_content("the dead upload and a live one")
    live_only = new_content("only the live upload")

    first = create_app(sweep_settings)
    async with app_client(first) as client:
        run, attachments = await upload_standard_run(client, allure_results)
        shared = attachments[0]
        shared_bytes = await content_of(client, shared)
        shared_content = Content(shared_bytes)
        assert shared_content.sha256 == shared["sha256"]
        storage: Storage = first.state.storage
        before = await object_keys(storage)
        assert shared_content.key in before

        dead = await start_upload(
            first,
            [own_a, own_b, with_live, shared_content],
            owner=f"{host}:{await asyncio.to_thread(dead_pid)}:0123456789ab",
        )
        live_here = await start_upload(
            first, [with_live, live_only], owner=f"{host}:{live_child.pid}:ba9876543210"
        )
        elsewhere = await start_upload(first, [live_only], owner=f"{ELSEWHERE}:1234:cafe00000000")
        written = await object_keys(storage)
        assert {own_a.key, own_b.key, with_live.key, blobs.raw_key(dead)} <= written

    # Between the two lifetimes: the dead upload is still recorded, as a crash leaves it.
    assert await upload_ids(observer) == {dead, live_here, elsewhere}
    assert await claims_of(observer, dead) == {
        own_a.sha256,
        own_b.sha256,
        with_live.sha256,
        shared_content.sha256,
    }

    second = create_app(sweep_settings)
    async with app_client(second) as client:
        storage = second.state.storage
        kept = await object_keys(storage)

        assert kept == written - {own_a.key, own_b.key, blobs.raw_key(dead)}
        assert {shared_content.key, with_live.key, live_only.key} <= kept
        assert blobs.raw_key(live_here) in kept
        assert blobs.raw_key(elsewhere) in kept
        assert await upload_ids(observer) == {live_here, elsewhere}
        assert await claims_of(observer, dead) == set()
        assert await blob_rows(observer, {own_a.sha256, own_b.sha256}) == set()
        assert await blob_rows(observer, {with_live.sha256, live_only.sha256}) == {
            with_live.sha256,
            live_only.sha256,
        }
        # The uploaded run is whole: the shared attachment and every other one still download.
        fetched = await client.get(f"{API}/runs/{run['id']}")
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["stats"] == run["stats"]
        assert await content_of(client, shared) == shared_bytes
        for attachment in attachments:
            body = await content_of(client, attachment)
            assert hashlib.sha256(body).hexdigest() == attachment["sha256"]


async def test_start_up_releases_an_upload_of_this_process_id_from_an_earlier_life(
    sweep_settings: ResultsSettings, observer: Database
) -> None:
    """A restarted process may get its old pid back; the instance id tells the lives apart."""
    content = new_content("an earlier life")
    first = create_app(sweep_settings)
    async with app_client(first):
        earlier = await start_upload(
            first, [content], owner=f"{socket.gethostname()}:{os.getpid()}:000000000000"
        )
        assert content.key in await object_keys(first.state.storage)

    second = create_app(sweep_settings)
    async with app_client(second):
        assert earlier not in await upload_ids(observer)
        keys = await object_keys(second.state.storage)
        assert content.key not in keys
        assert blobs.raw_key(earlier) not in keys


# --- the periodic sweep


async def test_the_periodic_sweep_releases_a_silent_upload_and_keeps_a_reporting_one(
    lease_settings: ResultsSettings,
) -> None:
    silent_content = new_content("silent")
    reporting_content = new_content("reporting")
    app = create_app(lease_settings)
    async with app_client(app):
        database: Database = app.state.database
        storage: Storage = app.state.storage
        silent = await start_upload(
            app,
            [silent_content],
            owner=f"{ELSEWHERE}:4242:feedface0000",
            heartbeat_age=timedelta(seconds=3 * lease_settings.upload_lease_s),
        )
        reporting = await start_upload(
            app, [reporting_content], owner=f"{ELSEWHERE}:4343:c0ffee000000"
        )
        assert {silent_content.key, reporting_content.key} <= await object_keys(storage)
        # Started after the sweep at start-up: only a later, periodic sweep can release it.
        assert silent in await upload_ids(database)

        async def silent_released() -> bool | None:
            # The reporting upload's host keeps reporting, as a live ingest does.
            await blobs.heartbeat(database, reporting)
            return True if silent not in await upload_ids(database) else None

        await wait_for(silent_released, within=4 * lease_settings.upload_lease_s, interval=0.2)

        keys = await object_keys(storage)
        assert silent_content.key not in keys
        assert blobs.raw_key(silent) not in keys
        assert reporting_content.key in keys
        assert blobs.raw_key(reporting) in keys
        assert await upload_ids(database) == {reporting}
        assert await claims_of(database, reporting) == {reporting_content.sha256}


# --- a landing that takes longer than the lease


class GatedStorage:
    """The app's storage, but attachment objects wait for ``gate``: a slow object store."""

    def __init__(self, inner: Storage, gate: asyncio.Event) -> None:
        self._inner = inner
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def put_many(self, *args: Any, **kwargs: Any) -> int:
        await self._gate.wait()
        written: int = await self._inner.put_many(*args, **kwargs)
        return written


async def test_a_landing_slower_than_the_lease_keeps_the_raw_object_of_its_run(
    lease_settings: ResultsSettings, allure_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(lease_settings)
    async with app_client(app) as client:
        gate = asyncio.Event()
        judged, finished = asyncio.Event(), asyncio.Event()
        app.state.ingestor.storage = GatedStorage(app.state.storage, gate)
        release = blobs.release

        async def watched_release(database: Database, storage: Storage, upload_id: str) -> int:
            judged.set()
            try:
                return await release(database, storage, upload_id)
            finally:
                finished.set()

        monkeypatch.setattr(blobs, "release", watched_release)
        posting = asyncio.create_task(post_run_with(client, folder_files(allure_results)))

        async def is_set(event: asyncio.Event) -> bool | None:
            return True if event.is_set() else None

        # Objects that take three leases to write: the sweep runs meanwhile, and must not take
        # the landing upload for an abandoned one...
        with contextlib.suppress(TimeoutError):
            await wait_for(lambda: is_set(judged), within=3 * lease_settings.upload_lease_s)
        gate.set()
        response = await posting
        if judged.is_set():
            await wait_for(lambda: is_set(finished), within=30)

        # ...yet the run landed, and its raw result files must still be there.
        assert response.status_code == 201, response.text
        async with app.state.database.session() as session:
            keys = (
                await session.scalars(
                    select(RunUpload.object_key).where(RunUpload.run_id == response.json()["id"])
                )
            ).all()
        assert len(keys) == 1
        assert await app.state.storage.exists(keys[0])
