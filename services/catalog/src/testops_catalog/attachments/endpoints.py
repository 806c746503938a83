"""Routes of /test-cases/{id}/attachments."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from typing import Annotated, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from testops_catalog.attachments import service
from testops_catalog.attachments.schemas import CaseAttachmentOut
from testops_catalog.settings import CatalogSettings
from testops_kit.database import Database, SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep, api_url
from testops_kit.schemas import IdPath
from testops_kit.storage import CHUNK_SIZE, STORAGE_UNAVAILABLE_DESCRIPTION, Storage

# Not "attachments": results' run attachments are, and the gateway merges both documents.
router = APIRouter(prefix="/test-cases", tags=["case-attachments"])

# Operations that read or write the bytes can also fail on object storage.
_STORAGE = {503: STORAGE_UNAVAILABLE_DESCRIPTION}


def _database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def _storage(request: Request) -> Storage:
    return cast(Storage, request.app.state.storage)


def _settings(request: Request) -> CatalogSettings:
    return cast(CatalogSettings, request.app.state.settings)


DatabaseDep = Annotated[Database, Depends(_database)]
StorageDep = Annotated[Storage, Depends(_storage)]
SettingsDep = Annotated[CatalogSettings, Depends(_settings)]


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    """The upload's bytes a chunk at a time (the parser has spooled them to a temp file)."""
    while chunk := await file.read(CHUNK_SIZE):
        yield chunk


def _ascii_fallback(filename: str) -> str:
    """The name for clients that ignore ``filename*``: accents dropped, other non-ASCII and
    quoting characters replaced by ``_``."""
    kept = (
        char if " " <= char <= "~" and char not in '"\\' else "_"
        for char in unicodedata.normalize("NFKD", filename)
        if not unicodedata.combining(char)
    )
    return "".join(kept)


def content_disposition(filename: str) -> str:
    """``attachment; filename="…"``, plus the exact name as RFC 5987 ``filename*`` when the plain
    ``filename`` cannot carry it (non-ASCII, quotes)."""
    fallback = _ascii_fallback(filename)
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def _location(request: Request, attachment: CaseAttachmentOut) -> str:
    return api_url(request, f"/test-cases/{attachment.test_case_id}/attachments/{attachment.id}")


@router.post(
    "/{test_case_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file to a test case",
    responses=problem_responses(404, 413, 422, 503, descriptions=_STORAGE),
)
async def upload_case_attachment(
    test_case_id: IdPath,
    file: Annotated[UploadFile, File(description="The file; its name must not contain folders.")],
    database: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    project: ProjectDep,
    request: Request,
    response: Response,
) -> CaseAttachmentOut:
    """The `Content-Type` of the part is kept (else it is guessed from the name). 413
    `attachment_too_large` past `TESTOPS_CATALOG_MAX_ATTACHMENT_BYTES`; 422 `unsafe_path` for an
    empty name or one with a folder in it."""
    attachment = await service.upload_attachment(
        database=database,
        storage=storage,
        project=project,
        case_id=test_case_id,
        filename=file.filename,
        content_type=file.content_type,
        chunks=_chunks(file),
        size_hint=file.size,
        max_bytes=settings.max_attachment_bytes,
    )
    response.headers["Location"] = _location(request, attachment)
    return attachment


@router.get(
    "/{test_case_id}/attachments",
    summary="List a test case's attachments",
    responses=problem_responses(404, 422),
)
async def list_case_attachments(
    test_case_id: IdPath,
    session: SessionDep,
    project: ProjectDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CaseAttachmentOut]:
    """Oldest first (by id)."""
    items, next_cursor = await service.list_attachments(
        session=session, project=project, case_id=test_case_id, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/{test_case_id}/attachments/{attachment_id}",
    summary="Get an attachment's metadata",
    responses=problem_responses(404, 422),
)
async def get_case_attachment(
    test_case_id: IdPath, attachment_id: IdPath, session: SessionDep, project: ProjectDep
) -> CaseAttachmentOut:
    return await service.get_attachment(
        session=session, project=project, case_id=test_case_id, attachment_id=attachment_id
    )


@router.get(
    "/{test_case_id}/attachments/{attachment_id}/content",
    summary="Download an attachment's bytes",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The bytes as uploaded, with the attachment's content type.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **problem_responses(404, 422, 503, descriptions=_STORAGE),
    },
)
async def download_case_attachment(
    test_case_id: IdPath,
    attachment_id: IdPath,
    session: SessionDep,
    storage: StorageDep,
    project: ProjectDep,
) -> StreamingResponse:
    """Streamed from storage. `ETag` is the quoted SHA-256; `Content-Disposition` names the file
    (`filename*` carries a non-ASCII name)."""
    attachment, stream = await service.open_content(
        session=session,
        storage=storage,
        project=project,
        case_id=test_case_id,
        attachment_id=attachment_id,
    )
    headers = {
        # Set as a header, not as media_type, so Starlette adds no charset of its own.
        "Content-Type": attachment.content_type,
        "Content-Length": str(stream.content_length),
        "Content-Disposition": content_disposition(attachment.filename),
        "ETag": f'"{attachment.sha256}"',
        "X-Content-Type-Options": "nosniff",
    }
    # The background task closes the stream when the client leaves before the end.
    return StreamingResponse(stream, headers=headers, background=BackgroundTask(stream.aclose))


@router.delete(
    "/{test_case_id}/attachments/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an attachment",
    responses=problem_responses(404, 422, 503, descriptions=_STORAGE),
)
async def delete_case_attachment(
    test_case_id: IdPath,
    attachment_id: IdPath,
    database: DatabaseDep,
    storage: StorageDep,
    project: ProjectDep,
) -> None:
    """The attachment and its bytes are gone for good (there is no restore)."""
    await service.delete_attachment(
        database=database,
        storage=storage,
        project=project,
        case_id=test_case_id,
        attachment_id=attachment_id,
    )
