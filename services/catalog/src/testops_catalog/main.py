"""The catalog app: test cases, suites and tags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from testops_catalog.settings import CatalogSettings
from testops_catalog.suites.endpoints import router as suites_router
from testops_catalog.tags.endpoints import router as tags_router
from testops_catalog.test_cases.endpoints import router as test_cases_router
from testops_kit.app import create_service_app, open_database

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: CatalogSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, MIGRATIONS):
            yield

    return create_service_app(
        title="TestOps catalog",
        description="Test cases with ordered steps and tags, and hierarchical suites.",
        version=version("testops-catalog"),
        routers=[test_cases_router, suites_router, tags_router],
        lifespan=lifespan,
    )
