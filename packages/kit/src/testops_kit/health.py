"""``/healthz`` (the process is alive) and ``/readyz`` (it can serve: its dependencies answer).

A service registers named checks; each raises when its dependency is not ready::

    app.state.readiness_checks["database"] = database_ready(database, MIGRATIONS)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from testops_kit.database import Database
from testops_kit.migrations import current_revision, head_revision

ReadinessCheck = Callable[[], Awaitable[None]]

TAG = "health"
TAG_DESCRIPTION = "Liveness and readiness probes of the service process."

router = APIRouter(tags=[TAG])


class Liveness(BaseModel):
    """What `/healthz` answers: the process is alive."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """What `/readyz` answers, ready (200) or not (503)."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(
        description="Each dependency by name: `ok`, or why it is not ready.",
        examples=[{"database": "ok", "storage": "ok"}],
    )


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


@router.get("/healthz", summary="The process is alive")
async def check_liveness() -> Liveness:
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="The process can serve: every dependency answers",
    # Not a problem+json error: probes only read the status, and operators the `checks`, which
    # say which dependency is not ready and why.
    responses={
        200: {"model": Readiness, "description": "Every dependency answers."},
        503: {"model": Readiness, "description": "A dependency is not ready: `checks` says why."},
    },
)
async def check_readiness(request: Request) -> JSONResponse:
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
    readiness = Readiness(status="ready" if ready else "not_ready", checks=results)
    return JSONResponse(readiness.model_dump(mode="json"), status_code=200 if ready else 503)
