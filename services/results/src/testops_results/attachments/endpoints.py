"""Routes of attachments: a run's list, one's metadata, and its bytes (with ``Range``)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Select, select

from testops_kit.database import SessionDep
from testops_kit.errors import NotFound, TestOpsError, problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Keyset, Limit, Page
from testops_kit.projects import ProjectDep
from testops_kit.schemas import IdPath, Timestamp
from testops_kit.storage import STORAGE_UNAVAILABLE_DESCRIPTION, Storage
from testops_results.models import Attachment, Run
from testops_results.runs import repository as runs
from testops_results.runs.errors import RunNotFound
from testops_results.uploads.blobs import blob_key

router = APIRouter(tags=["attachments"])

BY_ID = Keyset("attachments_id", Attachment.id)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    title = "Attachment not found"


class RangeNotSatisfiable(TestOpsError):
    status_code = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"


class AttachmentOut(BaseModel):
    id: int
    run_id: int
    name: str
    source: str
    content_type: str
    size: int
    sha256: str
    created_at: Timestamp


def _out(attachment: Attachment) -> AttachmentOut:
    return AttachmentOut.model_validate(attachment, from_attributes=True)


async def _get(session: SessionDep, attachment_id: int, *, project: str) -> Attachment:
    """The attachment, when its run is in ``project`` and not deleted. Its bytes are shared
    with every attachment of the same content, in any project: this is what guards them."""
    attachment = await session.scalar(
        select(Attachment)
        .join(Run, Run.id == Attachment.run_id)
        .where(Attachment.id == attachment_id, Run.project == project, Run.deleted_at.is_(None))
    )
    if attachment is None:
        raise AttachmentNotFound(f"No attachment {attachment_id}.")
    return attachment


@router.get(
    "/runs/{run_id}/attachments",
    summary="List a run's attachments",
    responses=problem_responses(404, 422),
)
async def list_run_attachments(
    run_id: IdPath,
    session: SessionDep,
    project: ProjectDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AttachmentOut]:
    if await runs.get(session, run_id, project=project) is None:
        raise RunNotFound(f"No run {run_id}.")
    statement: Select[Attachment] = select(Attachment).where(Attachment.run_id == run_id)
    rows = (await session.scalars(BY_ID.paginate(statement, cursor=cursor, limit=limit))).all()
    items, next_cursor = BY_ID.page(rows, limit=limit, key=lambda a: (a.id,))
    return Page(items=[_out(a) for a in items], next_cursor=next_cursor)


@router.get(
    "/attachments/{attachment_id}",
    summary="Get an attachment's metadata",
    responses=problem_responses(404, 422),
)
async def get_attachment(
    attachment_id: IdPath, session: SessionDep, project: ProjectDep
) -> AttachmentOut:
    return _out(await _get(session, attachment_id, project=project))


def _span(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a ``Range`` header asks for; None for the whole object."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: answer with the whole object
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(
                "A suffix range of 0 bytes selects nothing.",
                headers={"Content-Range": f"bytes */{size}"},
            )
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(
            f"The attachment has {size} bytes; bytes {header.removeprefix('bytes=')} are not "
            "among them.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


def _disposition(name: str) -> str:
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", name) or "attachment"
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/attachments/{attachment_id}/content",
    summary="Download an attachment",
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The bytes as uploaded.",
        },
        206: {"description": "The requested byte range."},
        **problem_responses(
            404, 416, 422, 503, descriptions={503: STORAGE_UNAVAILABLE_DESCRIPTION}
        ),
    },
    response_class=StreamingResponse,
)
async def get_attachment_content(
    attachment_id: IdPath,
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    range_: Annotated[str | None, Header(alias="Range", include_in_schema=True)] = None,
) -> StreamingResponse:
    """Streamed from object storage, byte-identical to the uploaded file; one `Range` honoured."""
    attachment = await _get(session, attachment_id, project=project)
    span = _span(range_, attachment.size)
    storage: Storage = request.app.state.storage
    start, end = span if span else (None, None)
    stream = await storage.open(blob_key(attachment.sha256), start=start, end=end)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{attachment.sha256}"',
        "Content-Length": str(stream.content_length),
        "Content-Disposition": _disposition(attachment.name or attachment.source),
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    status_code = 200
    if span is not None:
        status_code = 206
        headers["Content-Range"] = f"bytes {stream.start}-{stream.end}/{stream.size}"
    return StreamingResponse(
        stream, status_code=status_code, media_type=attachment.content_type, headers=headers
    )
