"""Routes of /runs/{id}/report: ask for a build, its state, and the report's files."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from testops_kit.app import LOCATION_HEADER
from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.projects import ProjectDep, api_root, api_url
from testops_kit.schemas import IdPath
from testops_kit.storage import STORAGE_UNAVAILABLE_DESCRIPTION, ObjectNotFound, Storage
from testops_results.reports import repository, service
from testops_results.reports.builder import content_type, report_prefix
from testops_results.reports.errors import ReportFileNotFound
from testops_results.reports.schemas import ReportOut
from testops_results.reports.worker import ReportWorker
from testops_results.runs import repository as runs
from testops_results.runs.errors import RunNotFound

router = APIRouter(prefix="/runs/{run_id}/report", tags=["reports"])

# Bundles named with their content hash (`app-b3323b2606f19801ef1b.js`) never change.
_HASHED = re.compile(r"[-.][0-9a-f]{8,}\.[A-Za-z0-9]+$")
LONG_CACHE = "private, max-age=31536000, immutable"
REVALIDATE = "no-cache"
REPORT_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'self'"
)
"""What a report page may load: its own files only. The Allure 3 CLI's report pages embed
Google's analytics script (the `awesome` plugin turns it on unconditionally); no one opening
a run's report should have it reported elsewhere, so the browser is told not to load it."""


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Build a run's Allure report",
    responses={
        200: {
            "model": ReportOut,
            "description": "The report is ready and covers every upload.",
            "headers": LOCATION_HEADER,
        },
        202: {
            "model": ReportOut,
            "description": "A build is queued or under way.",
            "headers": LOCATION_HEADER,
        },
        **problem_responses(404, 422),
    },
)
async def create_run_report(
    run_id: IdPath, request: Request, response: Response, project: ProjectDep
) -> ReportOut:
    """Queues a build of the run's Allure HTML report with the Allure 3 CLI, with history from
    the earlier runs of the same name. Asking while a build is pending or building returns that
    build; asking once it is ready returns it (200), unless the run gained files since — then a
    new build replaces it. A failed build is retried by asking again."""
    worker: ReportWorker = request.app.state.report_worker
    out, _ = await service.queue_build(
        database=request.app.state.database,
        wake=worker.wake,
        run_id=run_id,
        project=project,
        root=api_root(request),
    )
    response.headers["Location"] = api_url(request, f"/runs/{run_id}/report")
    if out.status == "ready":
        response.status_code = status.HTTP_200_OK
    return out


@router.get("", summary="Get the state of a run's report", responses=problem_responses(404, 422))
async def get_run_report(
    run_id: IdPath, session: SessionDep, project: ProjectDep, request: Request
) -> ReportOut:
    if await runs.get(session, run_id, project=project) is None:
        raise RunNotFound(f"No run {run_id}.")
    build = await repository.get(session, run_id)
    return ReportOut.of(run_id, build, root=api_root(request))


def _key(run_id: int, build_key: str, path: str) -> str:
    parts = path.split("/") if path else ["index.html"]
    if path.endswith("/"):
        parts[-1] = "index.html"
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        raise ReportFileNotFound(f"No report file {path!r}.")
    return report_prefix(run_id, build_key) + "/".join(parts)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/{path:path}",
    summary="Download a file of a run's report",
    responses={
        200: {
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The file, with its content type, `ETag` and `Cache-Control`.",
        },
        304: {"description": "Not modified: the `ETag` in `If-None-Match` is current."},
        **problem_responses(404, 422, 503, descriptions={503: STORAGE_UNAVAILABLE_DESCRIPTION}),
    },
    response_class=StreamingResponse,
)
async def get_run_report_file(
    run_id: IdPath,
    path: Annotated[
        str,
        Path(
            max_length=1024,
            description="A file of the report, e.g. `index.html` (the default) or `data/…`.",
        ),
    ],
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Served from object storage: the last build that was `ready`, also while a newer one
    is under way or after one failed; `index.html` and data are revalidated (`no-cache`,
    `ETag`), bundles named by their hash are cached for good."""
    if await runs.get(session, run_id, project=project) is None:
        raise RunNotFound(f"No run {run_id}.")
    build = await repository.get(session, run_id)
    if build is None or build.served_key is None:
        raise ReportFileNotFound(f"Run {run_id} has no ready report.")
    served = build.served_key
    key = _key(run_id, served, path)
    storage: Storage = request.app.state.storage
    try:
        stream = await storage.open(key)
    except ObjectNotFound:
        raise ReportFileNotFound(f"The report of run {run_id} has no file {path!r}.") from None
    name = key.rsplit("/", 1)[-1]
    etag = f'"{served}-{stream.size}"'
    headers = {
        "ETag": etag,
        "Cache-Control": LONG_CACHE if _HASHED.search(name) else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": REPORT_CSP,
    }
    if _matches(if_none_match, etag):
        await stream.aclose()
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Length"] = str(stream.content_length)
    return StreamingResponse(stream, media_type=content_type(name), headers=headers)
