"""The catalog app: test cases, suites and tags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from testops_catalog.attachments import service as attachments
from testops_catalog.attachments.endpoints import router as attachments_router
from testops_catalog.settings import CatalogSettings
from testops_catalog.suites.endpoints import router as suites_router
from testops_catalog.tags.endpoints import router as tags_router
from testops_catalog.test_cases.endpoints import router as test_cases_router
from testops_kit.app import create_service_app, open_database
from testops_kit.database import Database, utcnow
from testops_kit.logging import get_logger
from testops_kit.principal import gateway_verifier
from testops_kit.storage import Storage, open_storage, storage_ready

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


async def _sweep_attachments(database: Database, storage: Storage) -> None:
    """Remove the bytes of uploads that died before their attachment was recorded."""
    try:
        await attachments.sweep_orphaned_objects(
            database=database, storage=storage, older_than=utcnow() - attachments.ORPHAN_AGE
        )
    except Exception as exc:  # housekeeping must not keep the catalog from starting; /readyz
        # reports a storage that does not answer, and the next start-up tries again.
        log.warning("attachment_sweep_failed", error_type=type(exc).__name__, error=str(exc)[:500])


def create_app(settings: CatalogSettings) -> FastAPI:
    """The catalog app; :class:`~testops_kit.principal.MissingKey` when the gateway's public key
    is not configured (every request but the probes needs a principal it signed)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_database(app, settings, MIGRATIONS) as database,
            open_storage(settings) as storage,
        ):
            app.state.storage = storage
            app.state.readiness_checks["storage"] = storage_ready(storage)
            await _sweep_attachments(database, storage)
            yield

    app = create_service_app(
        title="TestOps catalog",
        description="Test cases with ordered steps, tags and attachments, and hierarchical suites.",
        version=version("testops-catalog"),
        routers=[test_cases_router, attachments_router, suites_router, tags_router],
        tags={
            "test-cases": "Test cases with their ordered steps and tags; soft delete and restore.",
            "case-attachments": "Files attached to a test case, and their bytes.",
            "suites": "Hierarchical suites and the ordered test cases in each.",
            "tags": "Tags that label test cases, unique by name in a project.",
        },
        lifespan=lifespan,
        principals=gateway_verifier(settings, audience="catalog"),
    )
    app.state.settings = settings
    return app
