"""Case attachment rules: plain file names, a size cap, the bytes stored before the row exists.

Every attachment owns one storage object, ``case-attachments/<uuid4 hex>``; objects are never
shared by content, so deleting an attachment removes exactly its object. The object is written
before its row and removed after its row, so at worst an object lacks a row (a process died in
between, or storage refused a delete); :func:`sweep_orphaned_objects` removes those at start-up.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime, timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.attachments.errors import AttachmentNotFound, AttachmentTooLarge, UnsafePath
from testops_catalog.attachments.repository import BY_ID, AttachmentRepository
from testops_catalog.attachments.schemas import CaseAttachmentOut
from testops_catalog.models import CONTENT_TYPE_MAX, FILENAME_MAX, CaseAttachment
from testops_catalog.test_cases.errors import CaseNotFound
from testops_catalog.test_cases.repository import CaseRepository
from testops_kit.database import Database
from testops_kit.errors import InvalidRequest, field_error
from testops_kit.logging import get_logger
from testops_kit.storage import ObjectNotFound, ObjectStream, Storage

log = get_logger(__name__)

KEY_PREFIX = "case-attachments/"
"""Where attachment objects live in the storage; nothing else is kept under it."""

ORPHAN_AGE = timedelta(hours=1)
"""An object without a row is swept once it is this old: younger, its upload may be in flight."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"

_SWEEP_BATCH = 500
# type/subtype with optional parameters, printable ASCII only: it is sent back as a header.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*( *;[\x20-\x7e]*)?", re.ASCII
)


def to_out(attachment: CaseAttachment) -> CaseAttachmentOut:
    return CaseAttachmentOut(
        id=attachment.id,
        test_case_id=attachment.test_case_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=attachment.created_at,
    )


def safe_filename(raw: str | None) -> str:
    """The upload's file name, trimmed; 422 ``unsafe_path`` when it is empty or not a plain name.

    A name with a folder in it (``../x``, ``a/b``, ``a\\b``), ``.``, ``..`` or control characters
    is refused rather than cut down, so what is stored is exactly what the client named.
    """
    name = (raw or "").strip()
    if (
        name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or any(unicodedata.category(char) == "Cc" for char in name)
    ):
        raise UnsafePath(
            f"The file name {raw!r} is not a plain file name.",
            errors=[field_error(["body", "file"], "the file name must be a name without folders")],
        )
    if len(name) > FILENAME_MAX:
        raise InvalidRequest(
            f"The file name is longer than {FILENAME_MAX} characters.",
            errors=[
                field_error(["body", "file"], f"the file name exceeds {FILENAME_MAX} characters")
            ],
        )
    return name


def content_type_for(declared: str | None, filename: str) -> str:
    """The part's own ``Content-Type`` when it is a well-formed media type, else a guess from
    the file name, else ``application/octet-stream``."""
    declared = (declared or "").strip()
    if len(declared) <= CONTENT_TYPE_MAX and _MEDIA_TYPE.fullmatch(declared):
        return declared
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def _too_large(max_bytes: int) -> AttachmentTooLarge:
    return AttachmentTooLarge(f"An attachment may have at most {max_bytes} bytes.")


class _Intake:
    """Counts and hashes the bytes on their way to storage, and stops them past the cap."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()

    async def through(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.max_bytes:
                # Raised inside storage.put, which then drops what it had written.
                raise _too_large(self.max_bytes)
            await anyio.to_thread.run_sync(self._digest.update, chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


async def _require_case(session: AsyncSession, project: str, case_id: int) -> None:
    """The case is an active one of ``project``: its attachments are reached only through it."""
    if not await CaseRepository(session, project=project).is_active(case_id):
        raise CaseNotFound(f"Test case {case_id} does not exist.")


async def _attachment(
    session: AsyncSession, project: str, case_id: int, attachment_id: int
) -> CaseAttachment:
    await _require_case(session, project, case_id)
    attachment = await AttachmentRepository(session).get(case_id, attachment_id)
    if attachment is None:
        raise AttachmentNotFound(f"Test case {case_id} has no attachment {attachment_id}.")
    return attachment


async def _discard(storage: Storage, key: str) -> None:
    """Delete an object no row refers to; a failure is logged and left to the start-up sweep."""
    with anyio.CancelScope(shield=True):
        try:
            await storage.delete(key)
        except Exception as exc:  # the delete is best effort: the sweep retries it
            log.warning(
                "attachment_object_not_deleted",
                key=key,
                error_type=type(exc).__name__,
                error=str(exc)[:500],
            )


async def upload_attachment(
    *,
    database: Database,
    storage: Storage,
    project: str,
    case_id: int,
    filename: str | None,
    content_type: str | None,
    chunks: AsyncIterable[bytes],
    size_hint: int | None,
    max_bytes: int,
) -> CaseAttachmentOut:
    """Store the bytes of ``chunks`` as a new attachment of an active case of ``project``.

    This opens its own units of work instead of using the request's: no transaction may stay
    open while the bytes travel to storage, or a slow upload would hold SQLite's write lock (or
    a PostgreSQL connection) all along. The object is written first; when its row cannot be
    written, the object is deleted again. ``size_hint`` (the size the upload announced) only
    lets an oversized upload be refused before anything is stored; the bytes counted decide.
    """
    name = safe_filename(filename)
    media_type = content_type_for(content_type, name)
    if size_hint is not None and size_hint > max_bytes:
        raise _too_large(max_bytes)
    async with database.session() as session:
        await _require_case(session, project, case_id)

    key = f"{KEY_PREFIX}{uuid.uuid4().hex}"
    intake = _Intake(max_bytes)
    await storage.put(key, intake.through(chunks), content_type=media_type)
    try:
        async with database.session(write=True) as session:
            await _require_case(session, project, case_id)  # it may have been deleted meanwhile
            attachment = await AttachmentRepository(session).add(
                CaseAttachment(
                    test_case_id=case_id,
                    filename=name,
                    content_type=media_type,
                    size=intake.size,
                    sha256=intake.sha256,
                    storage_key=key,
                )
            )
    except BaseException:
        await _discard(storage, key)
        raise
    log.info("attachment_uploaded", attachment_id=attachment.id, size=attachment.size)
    return to_out(attachment)


async def list_attachments(
    *, session: AsyncSession, project: str, case_id: int, cursor: str | None, limit: int
) -> tuple[list[CaseAttachmentOut], str | None]:
    if cursor is not None:
        BY_ID.decode(cursor)  # refuse a bad cursor before anything else is looked at
    await _require_case(session, project, case_id)
    rows = await AttachmentRepository(session).list_page(case_id, cursor=cursor, limit=limit)
    page, next_cursor = BY_ID.page(rows, limit=limit, key=lambda row: (row.id,))
    return [to_out(row) for row in page], next_cursor


async def get_attachment(
    *, session: AsyncSession, project: str, case_id: int, attachment_id: int
) -> CaseAttachmentOut:
    return to_out(await _attachment(session, project, case_id, attachment_id))


async def open_content(
    *, session: AsyncSession, storage: Storage, project: str, case_id: int, attachment_id: int
) -> tuple[CaseAttachmentOut, ObjectStream]:
    """An attachment and its bytes, open for streaming (the caller closes the stream)."""
    attachment = await _attachment(session, project, case_id, attachment_id)
    try:
        stream = await storage.open(attachment.storage_key)
    except ObjectNotFound:
        # A row without its object: storage lost it or was changed behind the catalog's back.
        log.error("attachment_object_missing", attachment_id=attachment.id)
        raise AttachmentNotFound(
            f"The content of attachment {attachment_id} is missing from storage."
        ) from None
    return to_out(attachment), stream


async def delete_attachment(
    *, database: Database, storage: Storage, project: str, case_id: int, attachment_id: int
) -> None:
    """Delete the row and commit, then the object: an object may outlive its row (the sweep
    removes it), but a row never points at a deleted object."""
    async with database.session(write=True) as session:
        await _require_case(session, project, case_id)
        key = await AttachmentRepository(session).delete(case_id, attachment_id)
        if key is None:
            raise AttachmentNotFound(f"Test case {case_id} has no attachment {attachment_id}.")
    log.info("attachment_deleted", attachment_id=attachment_id)
    await _discard(storage, key)


async def _sweep_batch(database: Database, storage: Storage, keys: Sequence[str]) -> int:
    async with database.session() as session:
        known = await AttachmentRepository(session).known_keys(keys)
    orphans = [key for key in keys if key not in known]
    await storage.delete_many(orphans)
    return len(orphans)


async def sweep_orphaned_objects(
    *, database: Database, storage: Storage, older_than: datetime
) -> int:
    """Delete the objects under ``case-attachments/`` that no attachment refers to and that were
    last written before ``older_than``; return how many. Younger objects are left alone: they
    may belong to an upload whose row is about to be written."""
    removed = 0
    batch: list[str] = []
    async for info in storage.list(KEY_PREFIX):
        if info.last_modified < older_than:
            batch.append(info.key)
        if len(batch) == _SWEEP_BATCH:
            removed += await _sweep_batch(database, storage, batch)
            batch = []
    if batch:
        removed += await _sweep_batch(database, storage, batch)
    if removed:
        log.info("orphaned_attachment_objects_deleted", count=removed)
    return removed
