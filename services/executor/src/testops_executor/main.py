"""The executor app: a queue of pytest executions of repositories, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from testops_executor.executions.endpoints import router as executions_router
from testops_executor.executions.queue import Slot
from testops_executor.pipeline.uploads import upload_signer
from testops_executor.settings import ExecutorSettings
from testops_kit.app import create_service_app, open_database
from testops_kit.principal import gateway_verifier

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ExecutorSettings) -> FastAPI:
    """The executor app. Without the gateway's public key or the executor's own upload key it
    is not made: :class:`~testops_kit.principal.MissingKey` says which setting gives it."""
    principals = gateway_verifier(settings, audience="executor")
    signer = upload_signer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, MIGRATIONS) as database:
            app.state.settings = settings
            slot = Slot(database, settings, signer)
            app.state.slot = slot
            worker = asyncio.create_task(slot.run_forever())
            try:
                yield
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    return create_service_app(
        title="TestOps executor",
        description=(
            "Runs a repository's pytest suite on request — clone, uv sync, pytest with Allure "
            "output — one execution at a time, and uploads the results to the results service."
        ),
        version=version("testops-executor"),
        routers=[executions_router],
        tags={"executions": "Queued, running and finished executions of a suite, and their logs."},
        lifespan=lifespan,
        principals=principals,
    )
