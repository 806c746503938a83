"""The app factory every service is built with, and the database part of its lifespan.

def create_app(settings: CatalogSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, MIGRATIONS):
            yield

    return create_service_app(
        title="TestOps catalog", ..., routers=[...], tags={"test-cases": "..."}, lifespan=lifespan
    )
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from testops_kit import health
from testops_kit.database import Database
from testops_kit.database_urls import redact_database_url
from testops_kit.errors import (
    DATABASE_UNAVAILABLE_DESCRIPTION,
    ErrorItem,
    Problem,
    install_error_handlers,
    problem_responses,
)
from testops_kit.json_bodies import JsonBodyLimits, declare_json_body_limits
from testops_kit.logging import get_logger
from testops_kit.migrations import upgrade
from testops_kit.principal import IssuerPolicy, PrincipalMiddleware, PrincipalVerifier
from testops_kit.projects import SCOPED_PREFIX, check_scoped_project
from testops_kit.requests import RequestContextMiddleware
from testops_kit.routing import HeadAsGet
from testops_kit.settings import DatabaseSettings

API_PREFIX = "/api/v1"

log = get_logger(__name__)


async def bind_entity_ids(request: Request) -> None:
    """Bind the ids named in the path (``test_case_id=12``) to every log event of the request."""
    ids = {
        # isdigit() alone takes "²", which int() refuses: only ASCII digits are numbers here.
        name: int(value)
        if isinstance(value, str) and value.isascii() and value.isdigit()
        else value
        for name, value in request.path_params.items()
        if name.endswith("_id")
    }
    if ids:
        structlog.contextvars.bind_contextvars(**ids)


def _operation_id(route: APIRoute) -> str:
    # Endpoint function names are chosen to be unique across the services (the gateway merges
    # their documents) and readable: create_test_case, get_case_attachment, ...
    return route.name


_FASTAPI_VALIDATION_ERROR_REF = "#/components/schemas/HTTPValidationError"


LOCATION_HEADER: dict[str, Any] = {
    "Location": {
        "description": "Where the resource is: `/api/v1/…`, to GET.",
        "required": True,
        "schema": {"type": "string"},
    }
}
"""The `headers` of a 201, and of a 202 that names where to look: ``responses={202:
{"headers": LOCATION_HEADER}}``. Every 201 gets it from the app factory."""


def _document_locations(schema: dict[str, Any]) -> None:
    """Every create answers 201 with `Location` (api.md): say so in each 201."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            created = operation.get("responses", {}).get("201")
            if created is not None:
                created.setdefault("headers", {}).update(copy.deepcopy(LOCATION_HEADER))


ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": 'The version read, `"3"`: send it back in `If-Match` to change it safely.',
        "required": True,
        "schema": {"type": "string"},
    }
}


def _document_etags(schema: dict[str, Any]) -> None:
    """A resource whose changes honour `If-Match` answers its `ETag` whenever it answers itself
    (api.md): say so in the 200s of its path."""
    for operations in schema.get("paths", {}).values():
        versioned = any(
            parameter.get("in") == "header" and parameter.get("name") == "If-Match"
            for operation in operations.values()
            for parameter in operation.get("parameters", [])
        )
        if not versioned:
            continue
        for operation in operations.values():
            answered = operation.get("responses", {}).get("200")
            if answered is not None:
                answered.setdefault("headers", {}).update(copy.deepcopy(ETAG_HEADER))


def _problem_validation_errors(schema: dict[str, Any]) -> None:
    """Make FastAPI's default 422 declarations say what is really sent: a problem; and list
    every operation's responses by status.

    FastAPI declares its own `HTTPValidationError` body for every operation with parameters
    that declares no 422 itself, but the kit renders request validation failures as problems
    (`install_error_handlers`); left alone, generated clients would expect the wrong body.
    """
    problem = problem_responses(422)[422]
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            declared = responses.get("422", {}).get("content", {}).get("application/json", {})
            if declared.get("schema", {}).get("$ref") == _FASTAPI_VALIDATION_ERROR_REF:
                responses["422"] = copy.deepcopy(problem)
            # The 503 every /api/v1 operation inherits would come first otherwise.
            operation["responses"] = dict(sorted(responses.items()))
    # Only those default declarations referred to them.
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def openapi_document(
    *,
    title: str,
    version: str,
    description: str,
    routes: Sequence[BaseRoute],
    tags: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document of ``routes`` as every TestOps process publishes it: problem+json
    for every error, the JSON body limits, `Location` on every 201."""
    schema = get_openapi(
        title=title, version=version, description=description, tags=tags, routes=routes
    )
    declare_json_body_limits(schema)
    _problem_validation_errors(schema)
    _document_locations(schema)
    _document_etags(schema)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"].pop("$defs", None)
    schemas["ErrorItem"] = ErrorItem.model_json_schema()
    return schema


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    principals: PrincipalVerifier | None = None,
    principal_policies: Mapping[str, IssuerPolicy] | None = None,
    tags: Mapping[str, str] | None = None,
) -> FastAPI:
    """A FastAPI app with the kit's middleware, error handlers, health routes and docs.

    Every route but health answers only requests with a principal ``principals`` verifies
    (``principal_policies``: what principals of issuers other than the gateway may do); each
    router is served in both path forms (:mod:`testops_kit.projects`): unscoped
    (``/api/v1/…``, the caller's default project) and scoped
    (``/api/v1/projects/{project_key}/…``).
    ``tags`` names the tags of the routers' operations, in the order the docs list them, with
    what each holds; the kit adds its `health` tag.
    """
    openapi_tags = [{"name": name, "description": text} for name, text in (tags or {}).items()]
    openapi_tags.append({"name": health.TAG, "description": health.TAG_DESCRIPTION})
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_tags=openapi_tags,
        generate_unique_id_function=_operation_id,
    )
    app.state.readiness_checks = {}
    app.state.principal_audience = principals.audience if principals else None
    app.add_middleware(HeadAsGet)  # innermost: the access log says HEAD
    app.add_middleware(JsonBodyLimits)  # before any route parses a JSON body
    # Before any body is read: a request that did not come through the gateway gets nothing.
    if principals is not None:
        app.add_middleware(PrincipalMiddleware, verifier=principals, policies=principal_policies)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    # Every operation under /api/v1 uses the database, so each can answer 503 when it is busy
    # or unreachable. An operation that can fail for more reasons (object storage) declares its
    # own 503, which takes precedence over this one.
    unavailable = problem_responses(503, descriptions={503: DATABASE_UNAVAILABLE_DESCRIPTION})
    for router in routers:
        # The form the document shows: the project named in the path.
        app.include_router(
            router,
            prefix=SCOPED_PREFIX,
            dependencies=[Depends(bind_entity_ids), Depends(check_scoped_project)],
            responses=unavailable,
        )
        # The same routes without it act in the caller's default project (the description of
        # `project_key` says which that is).
        app.include_router(
            router,
            prefix=API_PREFIX,
            dependencies=[Depends(bind_entity_ids)],
            responses=unavailable,
            include_in_schema=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(
                title=app.title,
                version=app.version,
                description=app.description,
                tags=app.openapi_tags,
                routes=app.routes,
            )
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
