"""Ingesting an upload, all or nothing.

1. *stage* (worker thread): check names, unpack an archive safely, parse JSON, hash attachments
   into a private work folder; nothing is stored yet, so a refused upload leaves nothing;
2. *register* the upload and *claim* its attachment contents, then write the missing objects and
   one archive of its raw result and container files;
3. *land* everything in one transaction.

If anything after step 1 fails, the upload is *released*: its claims go and, with them, the
objects no one else refers to. A process killed half-way leaves an ``uploads`` row that the
sweep at start-up (and every lease period) releases.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio

from testops_kit.database import Database
from testops_kit.logging import get_logger
from testops_kit.processes import make_work_folder, sweep_work_folders
from testops_kit.storage import FilePart, Storage
from testops_results.settings import ResultsSettings
from testops_results.uploads import blobs
from testops_results.uploads.errors import EmptyFile, NoFiles
from testops_results.uploads.landing import land
from testops_results.uploads.staging import (
    Limits,
    Staged,
    check_file_name,
    is_archive_name,
    stage_archive,
    stage_files,
)

log = get_logger(__name__)

WORKDIR_PREFIX = "testops-ingest-"


@dataclass(frozen=True, slots=True)
class IncomingFile:
    name: str
    stream: IO[bytes]
    size: int


@dataclass(slots=True)
class Ingestor:
    """What an upload needs from the running service."""

    database: Database
    storage: Storage
    settings: ResultsSettings

    async def ingest(
        self,
        files: Sequence[IncomingFile],
        *,
        project: str,
        run_id: int | None = None,
        new_run: dict[str, Any] | None = None,
    ) -> int:
        """Ingest ``files`` as a new run of ``project`` or a shard of ``run_id`` (which must be
        one of ``project``'s); returns the run's id."""
        check_files(files)
        workdir = await anyio.to_thread.run_sync(self._workdir)
        began = time.perf_counter()
        try:
            staged = await anyio.to_thread.run_sync(self._stage, files, workdir)
            log.info(
                "upload_staged",
                results=len(staged.results),
                containers=len(staged.containers),
                attachments=len(staged.attachments),
                warnings=len(staged.warnings),
                seconds=round(time.perf_counter() - began, 3),
            )
            return await self._store_and_land(
                staged, project=project, run_id=run_id, new_run=new_run
            )
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(workdir, ignore_errors=True))

    def _workdir(self) -> Path:
        return make_work_folder(WORKDIR_PREFIX, self.settings.spool_dir)

    def _stage(self, files: Sequence[IncomingFile], workdir: Path) -> Staged:
        limits = Limits(
            max_members=self.settings.max_archive_members,
            max_bytes=self.settings.max_archive_bytes,
            max_ratio=self.settings.max_archive_ratio,
            ratio_floor=self.settings.archive_ratio_floor_bytes,
        )
        if len(files) == 1 and is_archive_name(files[0].name):
            return stage_archive(files[0].name, files[0].stream, workdir, limits)
        return stage_files([(f.name, f.stream) for f in files], workdir, limits)

    async def _store_and_land(
        self,
        staged: Staged,
        *,
        project: str,
        run_id: int | None,
        new_run: dict[str, Any] | None,
    ) -> int:
        upload_id = await blobs.register(self.database)
        heartbeat = asyncio.create_task(self._heartbeat(upload_id))
        landed = False
        try:
            began = time.perf_counter()
            await self._claim(upload_id, staged)
            # On PostgreSQL objects are written while the rows go in, and the transaction
            # commits once both are done, so a run is never visible before its attachments.
            # SQLite has one writer at a time: objects first, then the short transaction.
            concurrent = self.database.dialect != "sqlite"
            if not concurrent:
                await self._store(upload_id, staged)
            store = asyncio.create_task(self._store(upload_id, staged)) if concurrent else None
            try:
                async with self.database.session(write=True) as session:
                    landed_run = await land(
                        session,
                        upload_id=upload_id,
                        object_key=blobs.raw_key(upload_id),
                        staged=staged,
                        project=project,
                        run_id=run_id,
                        new_run=new_run,
                        flaky_window=self.settings.flaky_window,
                    )
                    if store is not None:
                        await store
            finally:
                if store is not None:
                    store.cancel()  # a no-op once it has finished
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await store
            landed = True
            log.info(
                "upload_landed",
                upload_id=upload_id,
                run_id=landed_run,
                seconds=round(time.perf_counter() - began, 3),
            )
            return landed_run
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if not landed:
                # Shielded: a cancelled request still cleans up after itself.
                await asyncio.shield(self._release(upload_id))

    async def _release(self, upload_id: str) -> None:
        try:
            removed = await blobs.release(self.database, self.storage, upload_id)
            log.info("failed_upload_removed", upload_id=upload_id, objects=removed)
        except Exception:
            log.exception("failed_upload_not_removed", upload_id=upload_id)

    async def _heartbeat(self, upload_id: str) -> None:
        interval = max(1.0, self.settings.upload_lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await blobs.heartbeat(self.database, upload_id)
            except Exception:
                log.warning("upload_heartbeat_failed", upload_id=upload_id, exc_info=True)

    async def _claim(self, upload_id: str, staged: Staged) -> None:
        sizes = {a.sha256: a.size for a in staged.attachments.values()}
        await blobs.claim(self.database, upload_id, sizes)

    async def _store(self, upload_id: str, staged: Staged) -> None:
        began = time.perf_counter()
        contents = {a.sha256: a for a in staged.attachments.values()}
        written = await self.storage.put_many(
            [
                FilePart(blobs.blob_key(sha), a.path, a.offset, a.size)
                for sha, a in contents.items()
            ],
            skip_existing=True,
            concurrency=self.settings.storage_concurrency,
        )
        assert staged.raw_archive is not None
        await self.storage.put_file(
            blobs.raw_key(upload_id), staged.raw_archive, content_type="application/gzip"
        )
        log.info(
            "upload_stored",
            upload_id=upload_id,
            objects=written + 1,
            seconds=round(time.perf_counter() - began, 3),
        )


def check_files(files: Sequence[IncomingFile]) -> None:
    """The whole upload's shape: files present, plain names, none empty, one archive alone."""
    if not files:
        raise NoFiles("The upload carries no files: send allure-results files or one archive.")
    for file in files:
        check_file_name(file.name)
    for file in files:
        if file.size == 0:
            raise EmptyFile(f"The file {file.name!r} is empty.", file=file.name)
    archives = [f.name for f in files if is_archive_name(f.name)]
    if archives and len(files) > 1:
        from testops_kit.errors import InvalidRequest, field_error

        raise InvalidRequest(
            f"An archive ({archives[0]!r}) must be the only file of its upload.",
            errors=[field_error(["body", "files"], "an archive must be the only file")],
        )


def sweep_workdirs(base: Path | None) -> int:
    """Remove work folders of ingest processes that are gone."""
    return sweep_work_folders(WORKDIR_PREFIX, base)
