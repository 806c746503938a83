"""The app factory every service is built with, and the database part of its lifespan.

def create_app(settings: CatalogSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, MIGRATIONS):
            yield

    return create_service_app(title="TestOps catalog", routers=[...], lifespan=lifespan)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from testops_kit import health
from testops_kit.database import Database, redact_database_url
from testops_kit.errors import ErrorItem, Problem, install_error_handlers
from testops_kit.logging import get_logger
from testops_kit.migrations import upgrade
from testops_kit.requests import RequestContextMiddleware
from testops_kit.settings import DatabaseSettings

API_PREFIX = "/api/v1"

log = get_logger(__name__)


async def bind_entity_ids(request: Request) -> None:
    """Bind the ids named in the path (``test_case_id=12``) to every log event of the request."""
    ids = {
        name: int(value) if isinstance(value, str) and value.isdigit() else value
        for name, value in request.path_params.items()
        if name.endswith("_id")
    }
    if ids:
        structlog.contextvars.bind_contextvars(**ids)


def _operation_id(route: APIRoute) -> str:
    # Endpoint function names are chosen to be unique and readable: create_test_case, ...
    return route.name


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> FastAPI:
    """A FastAPI app with the kit's middleware, error handlers, health routes and docs."""
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.readiness_checks = {}
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(bind_entity_ids)])

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            schemas["Problem"].pop("$defs", None)
            schemas["ErrorItem"] = ErrorItem.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def open_database(
    app: FastAPI, settings: DatabaseSettings, migrations: Path
) -> AsyncIterator[Database]:
    """Create the process's database, migrate it when configured, and check it for readiness."""
    url = settings.resolved_database_url
    if settings.migrate_on_start:
        await upgrade(migrations, url)
    database = Database(
        url, pool_size=settings.db_pool_size, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    app.state.database = database
    app.state.readiness_checks["database"] = health.database_ready(database, migrations)
    log.info("database_ready", database=redact_database_url(url), dialect=database.dialect)
    try:
        yield database
    finally:
        await database.dispose()
