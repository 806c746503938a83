"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve: its dependencies answer).

A service registers named checks; each raises when its dependency is not ready::

    app.state.readiness_checks["database"] = database_ready(database, MIGRATIONS)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from testops_kit.database import Database
from testops_kit.migrations import current_revision, head_revision

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["health"])


class NotReady(Exception):
    """A dependency is not ready; the message says why."""


def database_ready(database: Database, script_location: Path) -> ReadinessCheck:
    """Ready when the database answers and is at the chain's head revision."""
    head = head_revision(script_location)

    async def check() -> None:
        revision = await current_revision(database.engine)
        if revision != head:
            raise NotReady(f"database is at revision {revision}, expected {head}")

    return check


@router.get("/healthz", operation_id="healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The process can serve: every dependency answers",
    responses={503: {"description": "A dependency is not ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    results: dict[str, str] = {}
    ready = True
    for name, check in checks.items():
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:  # any failure of a dependency means "not ready", said why
            ready = False
            results[name] = str(exc) or type(exc).__name__
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": results},
        status_code=200 if ready else 503,
    )
