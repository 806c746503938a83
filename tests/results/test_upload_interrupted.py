"""A service killed in the middle of an upload, then started again: all or nothing, as promised.

The real thing, as a user sees it: ``python -m testops_results`` in a child process, a large
allure-results archive posted over HTTP, ``kill -9`` once the service's log says the upload is
staged (at once, once its first object is in storage, and 0.3 s later), then the service started
again on the same database, storage and spool folder. Whatever the moment of the kill, either
the run does not exist and the storage holds no object at all, or the run is there complete: its
stats and every attachment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.results.allure_data import ExpectedRun, attachment_files
from tests.results.results_api import API, JSON, every_item

from testops_kit.database import Database
from testops_kit.storage import open_storage
from testops_kit.testing import PrincipalAuth, free_port, principal_settings, wait_for
from testops_results.models import Upload
from testops_results.settings import ResultsSettings
from testops_results.uploads.service import WORKDIR_PREFIX

EXTRA_ATTACHMENTS = 4
EXTRA_ATTACHMENT_BYTES = 18 * 1024 * 1024  # random: ~72 MiB that gzip cannot shrink
ENV_PREFIX = "TESTOPS_RESULTS_"


@dataclass(frozen=True)
class Archive:
    path: Path
    attachments: dict[str, str]  # file name → sha256, every attachment in the archive


@pytest.fixture(scope="module")
def big_archive(allure_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """The standard suite's allure-results plus a few large attachments, as one .tar.gz."""
    folder = tmp_path_factory.mktemp("interrupted-archive")
    path = folder / "allure-results.tar.gz"
    attachments = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in attachment_files(allure_results)
    }
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for source in sorted(allure_results.iterdir()):
            archive.add(source, arcname=f"allure-results/{source.name}")
        for number in range(EXTRA_ATTACHMENTS):
            data = os.urandom(EXTRA_ATTACHMENT_BYTES)
            name = f"{number:08d}-0000-4000-8000-big{number:09d}-attachment.bin"
            info = tarfile.TarInfo(f"allure-results/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            attachments[name] = hashlib.sha256(data).hexdigest()
    return Archive(path, attachments)


# --- the service as a child process


@dataclass
class Deployment:
    """One service's settings (database, storage, spool folder), shared by its lives."""

    workdir: Path
    settings: dict[str, Any]
    lives: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def spool_dir(self) -> Path:
        return self.workdir / "spool"

    def results_settings(self) -> ResultsSettings:
        return ResultsSettings(**self.settings, data_dir=self.workdir / "data")

    def environment(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
        values = {
            **self.settings,
            "data_dir": self.workdir / "data",
            "spool_dir": self.spool_dir,
            "port": port,
            "log_format": "json",
        }
        env.update({f"{ENV_PREFIX}{k.upper()}": str(v) for k, v in values.items()})
        return env

    def log_path(self, life: int) -> Path:
        return self.workdir / f"service-{life}.log"

    def spawn(self) -> Service:
        port = free_port()
        life = len(self.lives) + 1
        with self.log_path(life).open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "testops_results"],
                env=self.environment(port),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        self.lives.append(process)
        return Service(process, f"http://127.0.0.1:{port}", self.log_path(life))

    async def start(self) -> Service:
        """A new life of the service, once it answers ``/readyz`` (start-up sweeps done)."""
        service = await asyncio.to_thread(self.spawn)
        await service.ready()
        return service

    def kill_all(self) -> None:
        for process in self.lives:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def events(self) -> list[JSON]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    found.append(event)
        return found

    def has_logged(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.events())

    async def ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:

            async def answers() -> bool | None:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the service exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return True
                return None

            await wait_for(answers, within=60, interval=0.05)

    async def kill(self) -> None:
        """``kill -9``, and reap it: a zombie's pid would still look alive to the sweep."""
        self.process.kill()
        await asyncio.to_thread(self.process.wait, 30)


@pytest.fixture
def deployment(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    settings = {"database_url": database_url_factory("interrupted"), **principal_settings()}
    settings.update(storage_settings_factory("interrupted"))
    deployment = Deployment(tmp_path_factory.mktemp("interrupted"), settings)
    try:
        yield deployment
    finally:
        deployment.kill_all()


# --- what a user (and the operator) can see


async def all_object_keys(deployment: Deployment) -> set[str]:
    async with open_storage(deployment.results_settings()) as storage:
        return {info.key async for info in storage.list("")}


async def uploads_in_progress(deployment: Deployment) -> list[str]:
    database = Database(deployment.results_settings().resolved_database_url)
    try:
        async with database.session() as session:
            return list((await session.scalars(select(Upload.id))).all())
    finally:
        await database.dispose()


def leftover_workdirs(deployment: Deployment) -> list[Path]:
    return sorted(deployment.spool_dir.glob(f"{WORKDIR_PREFIX}*"))


def half_written_files(deployment: Deployment) -> list[Path]:
    """A file storage's temp files of writes that never finished."""
    url = deployment.settings["storage_url"]
    if not url.startswith("file://"):
        return []
    staging = Path(url.removeprefix("file://")) / ".staging"
    return sorted(staging.iterdir()) if staging.is_dir() else []


async def post_archive(url: str, archive: Archive) -> httpx.Response | None:
    """POST /runs with the archive; None when the connection dies with the service."""
    async with httpx.AsyncClient(
        base_url=url, timeout=120, auth=PrincipalAuth("results")
    ) as client:
        with archive.path.open("rb") as file:
            try:
                return await client.post(
                    f"{API}/runs",
                    data={"run_name": "interrupted"},
                    files={"files": (archive.path.name, file, "application/gzip")},
                )
            except httpx.TransportError:
                return None


@contextlib.asynccontextmanager
async def running(task: asyncio.Task[Any]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def first_object_stored(deployment: Deployment) -> None:
    async with open_storage(deployment.results_settings()) as storage:

        async def stored() -> bool | None:
            async for _ in storage.list("attachments/"):
                return True
            return None

        await wait_for(stored, within=60, interval=0.005)


@pytest.mark.parametrize(
    ("moment", "delay"),
    [("upload_staged", 0.0), ("first_object_stored", 0.0), ("upload_staged", 0.3)],
    ids=["at-staged", "at-first-object", "staged+0.3s"],
)
async def test_a_kill_during_an_upload_leaves_the_whole_run_or_nothing(
    deployment: Deployment,
    big_archive: Archive,
    expected: ExpectedRun,
    moment: str,
    delay: float,
) -> None:
    first = await deployment.start()
    upload = asyncio.create_task(post_archive(first.url, big_archive))
    async with running(upload):

        async def staged() -> bool | None:
            if upload.done():
                raise AssertionError(f"the upload ended first: {upload.result()!r}")
            return True if first.has_logged("upload_staged") else None

        await wait_for(staged, within=60, interval=0.01)
        if moment == "first_object_stored":
            await first_object_stored(deployment)
        if delay:
            await asyncio.sleep(delay)  # the moment of the kill is the point of this test
        await first.kill()
        answer = await upload
    assert first.process.returncode == -9

    second = await deployment.start()
    async with httpx.AsyncClient(
        base_url=second.url, timeout=30, auth=PrincipalAuth("results")
    ) as client:
        runs = await every_item(client, f"{API}/runs", deleted="include")
        keys = await all_object_keys(deployment)

        if not runs:
            # Killed before the landing transaction committed: nothing of it may remain.
            assert answer is None
            assert keys == set()
        else:
            [run] = runs
            if answer is not None:  # the answer made it out before the kill
                assert answer.status_code == 201, answer.text
                assert answer.json()["id"] == run["id"]
            assert run["name"] == "interrupted"
            assert run["stats"] == expected.stats
            assert run["status"] == expected.status
            attachments = await every_item(client, f"{API}/runs/{run['id']}/attachments")
            assert {a["source"]: a["sha256"] for a in attachments} == big_archive.attachments
            for attachment in attachments:
                response = await client.get(f"{API}/attachments/{attachment['id']}/content")
                assert response.status_code == 200, response.text
                assert hashlib.sha256(response.content).hexdigest() == attachment["sha256"]
            blob_keys = {k for k in keys if k.startswith("attachments/")}
            assert len(blob_keys) == len(set(big_archive.attachments.values()))
            assert len(keys - blob_keys) == 1  # the upload's raw result files
            assert next(iter(keys - blob_keys)).startswith("uploads/")

    assert await uploads_in_progress(deployment) == []
    assert leftover_workdirs(deployment) == []
    assert half_written_files(deployment) == []
