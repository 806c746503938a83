"""The results app: Allure results ingest, runs, results, attachments and history."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

import anyio
from fastapi import FastAPI

from testops_kit.app import create_service_app, open_database
from testops_kit.database import Database
from testops_kit.logging import get_logger
from testops_kit.principal import EXECUTOR_ISSUER, gateway_verifier
from testops_kit.storage import Storage, open_storage, storage_ready
from testops_results.analytics.endpoints import router as analytics_router
from testops_results.attachments.endpoints import router as attachments_router
from testops_results.principals import EXECUTOR_KEY_SETTING, executor_may, executor_public_key
from testops_results.reports.endpoints import router as reports_router
from testops_results.reports.worker import ReportWorker
from testops_results.results.endpoints import router as results_router
from testops_results.runs.endpoints import router as runs_router
from testops_results.settings import ResultsSettings
from testops_results.uploads import blobs
from testops_results.uploads.service import Ingestor, sweep_workdirs

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


async def _sweep_forever(database: Database, storage: Storage, lease_s: int) -> None:
    """Release abandoned uploads now and then every lease period."""
    while True:
        try:
            released = await blobs.sweep(database, storage, lease_s=lease_s)
            if released:
                log.info("abandoned_uploads_swept", uploads=released)
        except Exception:
            log.warning("upload_sweep_failed", exc_info=True)
        await asyncio.sleep(lease_s)


def create_app(settings: ResultsSettings) -> FastAPI:
    """The results app; :class:`MissingKey` when the gateway's key (or a configured executor
    key) cannot be read."""
    executor_key = executor_public_key(settings)
    principals = gateway_verifier(
        settings,
        audience="results",
        others={EXECUTOR_ISSUER: executor_key} if executor_key is not None else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if executor_key is None:
            log.warning(
                "executor_uploads_refused",
                reason="no executor public key: uploads the executor signs are refused",
                setting=EXECUTOR_KEY_SETTING,
                file=str(settings.resolved_executor_public_key_file),
            )
        async with (
            open_database(app, settings, MIGRATIONS) as database,
            open_storage(settings) as storage,
        ):
            app.state.storage = storage
            app.state.readiness_checks["storage"] = storage_ready(storage)
            app.state.ingestor = Ingestor(database=database, storage=storage, settings=settings)
            await anyio.to_thread.run_sync(sweep_workdirs, settings.spool_dir)
            await blobs.sweep(database, storage, lease_s=settings.upload_lease_s)
            sweeper = asyncio.create_task(
                _sweep_forever(database, storage, settings.upload_lease_s)
            )
            app.state.report_worker = ReportWorker(database, storage, settings)
            reports = asyncio.create_task(app.state.report_worker.run_forever())
            try:
                yield
            finally:
                for task in (reports, sweeper):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    return create_service_app(
        title="TestOps results",
        description=(
            "Allure results uploaded by CI pipelines: runs, test results with Allure's "
            "semantics (retries, history ids), fixtures, attachments and test history."
        ),
        version=version("testops-results"),
        routers=[runs_router, results_router, attachments_router, reports_router, analytics_router],
        tags={
            "runs": "Runs of uploaded allure-results: uploads, shards, soft delete and restore.",
            "results": "A run's test results, one result in full, and a test's history.",
            "attachments": "Files attached to the results, steps and fixtures of a run.",
            "reports": (
                "A run's Allure HTML report, built by the Allure 3 CLI with history from the "
                "earlier runs of the same name, and its files."
            ),
            "analytics": "Flaky tests and trends of a run name; a run's failures grouped by cause.",
        },
        lifespan=lifespan,
        principals=principals,
        principal_policies={EXECUTOR_ISSUER: executor_may},
    )
