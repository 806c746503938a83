"""Attachment objects and uploads in progress: claim, release, and sweep what was abandoned.

An attachment's bytes are stored once, under the sha256 of its content. An upload first
*claims* every content it will rely on (a ``blobs`` row, locked while it is written, plus an
``upload_blobs`` row), then writes the objects that are missing. Releasing an upload (it failed,
or its process died) removes its claims and, under the same row locks, the objects that nothing
else refers to — so a removal never pulls an object from under another upload.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.database import Database, utcnow
from testops_kit.dialects import upsert
from testops_kit.logging import get_logger
from testops_kit.processes import pid_alive
from testops_kit.storage import Storage
from testops_results.models import Attachment, Blob, Upload, UploadBlob

BATCH = 1000

INSTANCE = uuid.uuid4().hex[:12]
"""This process's identity in ``uploads.owner``: host, pid and a random instance id."""

log = get_logger(__name__)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{INSTANCE}"


def blob_key(sha256: str) -> str:
    return f"attachments/{sha256[:2]}/{sha256}"


def raw_key(upload_id: str) -> str:
    return f"uploads/{upload_id}.jsonl.gz"


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


async def register(database: Database) -> str:
    """Record a new upload in progress and return its id."""
    upload_id = uuid.uuid4().hex
    async with database.session(write=True) as session:
        session.add(Upload(id=upload_id, owner=owner()))
    return upload_id


async def heartbeat(database: Database, upload_id: str) -> None:
    async with database.session(write=True) as session:
        await session.execute(
            update(Upload).where(Upload.id == upload_id).values(heartbeat_at=utcnow())
        )


async def claim(database: Database, upload_id: str, sizes: dict[str, int]) -> None:
    """Claim the contents ``sizes`` names (sha256 → size) for ``upload_id``."""
    shas = sorted(sizes)  # one lock order for every upload
    async with database.session(write=True) as session:
        for batch in _batches(shas):
            await session.execute(
                upsert(session, Blob, index_elements=["sha256"], update=["size"]),
                [{"sha256": sha, "size": sizes[sha]} for sha in batch],
            )
            await session.execute(
                insert(UploadBlob),
                [{"upload_id": upload_id, "sha256": sha} for sha in batch],
            )


async def release(database: Database, storage: Storage, upload_id: str) -> int:
    """Forget ``upload_id`` and remove the objects only it relied on; returns how many."""
    async with database.session(write=True) as session:
        shas = list(
            (
                await session.scalars(
                    select(UploadBlob.sha256)
                    .where(UploadBlob.upload_id == upload_id)
                    .order_by(UploadBlob.sha256)
                )
            ).all()
        )
        for batch in _batches(shas):
            await session.execute(
                select(Blob.sha256).where(Blob.sha256.in_(batch)).with_for_update()
            )
        gone = await session.execute(delete(Upload).where(Upload.id == upload_id))
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            # It landed (or was released) meanwhile: its objects belong to a run now.
            return 0
        await session.execute(delete(UploadBlob).where(UploadBlob.upload_id == upload_id))
        orphans = await _unreferenced(session, shas)
        for batch in _batches(orphans):
            await session.execute(delete(Blob).where(Blob.sha256.in_(batch)))
        # Removed while the rows are locked: no upload can claim them until this commits.
        await storage.delete_many([*(blob_key(sha) for sha in orphans), raw_key(upload_id)])
    return len(orphans)


async def _unreferenced(session: AsyncSession, shas: Sequence[str]) -> list[str]:
    referenced: set[str] = set()
    for batch in _batches(shas):
        referenced.update(
            (
                await session.scalars(
                    select(Attachment.sha256).where(Attachment.sha256.in_(batch)).distinct()
                )
            ).all()
        )
        referenced.update(
            (
                await session.scalars(
                    select(UploadBlob.sha256).where(UploadBlob.sha256.in_(batch)).distinct()
                )
            ).all()
        )
    return [sha for sha in shas if sha not in referenced]


def _abandoned(upload_owner: str, heartbeat_age: timedelta, lease: timedelta) -> bool:
    if upload_owner == owner():
        return False  # ours: this process finishes or releases it itself
    if heartbeat_age > lease:
        return True
    host, _, rest = upload_owner.partition(":")
    pid_text, _, instance = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return instance != INSTANCE
    return not pid_alive(pid)


INCOMPLETE_WRITE_AGE_S = 3600
"""Unfinished multipart writes older than this were left by a process that died."""


async def sweep(database: Database, storage: Storage, *, lease_s: int) -> int:
    """Release every upload whose process is gone or silent for longer than the lease, and
    drop object writes that a dead process never finished."""
    with contextlib.suppress(Exception):
        aborted = await storage.abort_incomplete_writes(older_than_s=INCOMPLETE_WRITE_AGE_S)
        if aborted:
            log.info("incomplete_writes_aborted", writes=aborted)
    now = utcnow()
    lease = timedelta(seconds=lease_s)
    async with database.session() as session:
        uploads = (
            await session.execute(select(Upload.id, Upload.owner, Upload.heartbeat_at))
        ).all()
    released = 0
    for upload_id, upload_owner, heartbeat_at in uploads:
        if _abandoned(upload_owner, now - heartbeat_at, lease):
            with contextlib.suppress(Exception):
                removed = await release(database, storage, upload_id)
                log.info("abandoned_upload_removed", upload_id=upload_id, objects=removed)
                released += 1
    return released
