"""The gateway app: one /api/v1 in front of catalog, results and executor."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware

from testops_gateway.access import AccessControl, RateLimiter
from testops_gateway.audit.endpoints import router as audit_router
from testops_gateway.audit.writer import AuditLog
from testops_gateway.auth import InvalidTokenLine, TokenStore, load_tokens
from testops_gateway.authentication import Authenticator
from testops_gateway.database import MIGRATIONS
from testops_gateway.docs import docs_router
from testops_gateway.housekeeping import Housekeeping
from testops_gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from testops_gateway.metrics import Metrics
from testops_gateway.openapi import OpenAPIDocument
from testops_gateway.passwords import Passwords
from testops_gateway.projects.endpoints import router as projects_router
from testops_gateway.proxy import Proxy, Upstream
from testops_gateway.sessions.cookies import CSRF_HEADER
from testops_gateway.sessions.endpoints import router as sessions_router
from testops_gateway.settings import UPSTREAMS, GatewaySettings, is_loopback
from testops_gateway.tokens.endpoints import router as tokens_router
from testops_gateway.usage import UsageRecorder
from testops_gateway.users.endpoints import router as users_router
from testops_gateway.users.repository import UserRepository
from testops_kit.app import open_database
from testops_kit.app import openapi_document as document_of_routes
from testops_kit.database import Database
from testops_kit.errors import install_error_handlers
from testops_kit.json_bodies import JsonBodyLimits
from testops_kit.logging import get_logger
from testops_kit.principal import (
    GATEWAY_ISSUER,
    MissingKey,
    Principal,
    PrincipalSigner,
    load_private_key,
    read_key,
)
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.requests import RequestContextMiddleware
from testops_kit.routing import HeadAsGet

API_PREFIX = "/api/v1"
DESCRIPTION = (
    "One API for TestOps: test cases and suites (catalog), Allure runs and results (results), "
    "and suite executions (executor), in projects. Send `Authorization: Bearer <token>` (or "
    "sign in for a browser session); what a caller may do in a project is its role's scopes "
    "(`viewer`: `read`; `editor`: `read`, `write`, `execute`; `owner`: also `manage`), within "
    "its token's: `read` (GET), `write` (other methods), `execute` (POST /executions…).\n\n"
    "Every path under `/api/v1/projects/{project_key}/` also answers without that part "
    "(`/api/v1/test-cases`, `/api/v1/runs/42`, …): in the caller's default project, the one "
    "its token is restricted to, else `DEFAULT`."
)

log = get_logger(__name__)


class StartupRefused(Exception):
    """The settings would make an unsafe or broken gateway; the message says why."""


def load_token_store(settings: GatewaySettings) -> TokenStore:
    """The configured tokens, after the check that keeps an open gateway off the network."""
    if settings.auth_disabled and not is_loopback(settings.host):
        raise StartupRefused(
            f"TESTOPS_GATEWAY_AUTH_DISABLED is set but the gateway would listen on "
            f"{settings.host}: anonymous access is only allowed on a loopback address "
            "(127.0.0.1, ::1). Make users (testops-gateway create-user) or tokens "
            "(testops-gateway create-token) instead."
        )
    try:
        return TokenStore(load_tokens(settings.token_lines()))
    except OSError as exc:
        raise StartupRefused(f"TESTOPS_GATEWAY_TOKENS_FILE cannot be read: {exc}") from None
    except InvalidTokenLine as exc:
        raise StartupRefused(f"A configured token is not valid: {exc}") from None


def load_signer(settings: GatewaySettings) -> PrincipalSigner:
    """What the gateway signs principals with; refuses to start without a usable key."""
    secret = settings.principal_private_key
    try:
        pem = read_key(
            secret.get_secret_value() if secret else None,
            settings.resolved_principal_private_key_file,
            setting="TESTOPS_GATEWAY_PRINCIPAL_PRIVATE_KEY",
        )
        key = load_private_key(pem)
    except MissingKey as exc:
        raise StartupRefused(str(exc)) from None
    except ValueError as exc:
        raise StartupRefused(
            f"TESTOPS_GATEWAY_PRINCIPAL_PRIVATE_KEY is not an Ed25519 private key: {exc}"
        ) from None
    return PrincipalSigner(key, issuer=GATEWAY_ISSUER)


GATEWAY_ITSELF = Principal(
    subject="gateway", name="gateway", project=DEFAULT_PROJECT, role="admin", scopes=frozenset()
)
"""Who the gateway's own requests (the services' OpenAPI documents) come from."""


def create_app(settings: GatewaySettings) -> FastAPI:
    tokens = load_token_store(settings)
    signer = load_signer(settings)
    metrics = Metrics()
    upstreams: dict[str, Upstream] = {}

    async def fetch_openapi(name: str) -> dict[str, Any] | None:
        try:
            response = await upstreams[name].client.get(
                f"{API_PREFIX}/openapi.json",
                timeout=settings.readiness_timeout_s,
                headers={PRINCIPAL_HEADER: signer.sign(GATEWAY_ITSELF, audience=name)},
            )
        except httpx.HTTPError:
            return None
        try:
            document = response.json() if response.status_code == 200 else None
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            log.warning("openapi_unavailable", upstream=name, status=response.status_code)
            return None
        return document

    document = OpenAPIDocument(
        fetch=fetch_openapi,
        services=UPSTREAMS,
        title="TestOps API",
        version=version("testops-gateway"),
        description=DESCRIPTION,
        servers=[{"url": settings.public_url or "/"}],
        own_document=lambda: own_document(),
    )

    async def learn_routes() -> None:
        # Only while a service is missing from the document: its paths may have come up.
        # The document's own throttle keeps a burst of such requests from asking every time.
        if document.missing:
            metrics.use_templates((await document.get())["paths"])

    proxy = Proxy(upstreams, metrics, signer=signer, learn_routes=learn_routes)

    usage = UsageRecorder()
    audit = AuditLog()
    authenticator = Authenticator(
        configured=tokens,
        auth_disabled=settings.auth_disabled,
        usage=usage,
        session_idle_s=settings.session_idle_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams.update({name: Upstream(name, settings) for name in UPSTREAMS})
        try:
            async with open_database(app, settings, MIGRATIONS) as database:
                authenticator.database = database
                app.state.passwords = passwords = Passwords()
                warm_up = asyncio.create_task(passwords.warm_up(), name="password-warm-up")
                audit.start(database)
                housekeeping = Housekeeping(
                    database,
                    usage,
                    flush_every_s=settings.token_usage_flush_s,
                    audit_retention_days=settings.audit_retention_days,
                )
                housekeeping.start()
                try:
                    await _say_who_may_call(database, settings, tokens)
                    metrics.use_templates((await document.get())["paths"])
                    yield
                finally:
                    warm_up.cancel()
                    await housekeeping.stop()
                    await audit.stop()
                    authenticator.database = None
        finally:
            for upstream in upstreams.values():
                await upstream.aclose()

    app = FastAPI(
        title="TestOps gateway",
        version=version("testops-gateway"),
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Operation ids are the endpoints' names, unique across the services' too (as theirs).
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.readiness_checks = {}
    app.state.usage = usage
    app.state.audit = audit
    install_error_handlers(app)
    public_origin = "/".join(settings.public_url.split("/")[:3]) if settings.public_url else ""
    app.include_router(
        docs_router(
            prefix=API_PREFIX, openapi_url=f"{API_PREFIX}/openapi.json", api_origin=public_origin
        )
    )

    for router in (
        sessions_router,
        users_router,
        tokens_router,
        projects_router,
        audit_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    @functools.cache
    def own_document() -> dict[str, Any]:
        """The gateway's own API (identity) as a document, merged with the services'."""
        own = document_of_routes(
            title=app.title,
            version=app.version,
            description="",
            routes=app.routes,  # its own routes outside /api/v1 are not in any document
        )
        # Signing in is how a browser gets credentials; signing out needs none (without a
        # session there is nothing to end, and the answer is the same).
        for path in ("/auth/login", "/auth/logout"):
            operation = own["paths"].get(API_PREFIX + path, {}).get("post")
            if operation is not None:
                operation["security"] = []
        return own

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    async def openapi_document() -> JSONResponse:
        merged = await document.get()
        metrics.use_templates(merged["paths"])
        return JSONResponse(merged, headers={"Cache-Control": "no-cache"})

    @app.get(API_PREFIX, include_in_schema=False)
    @app.get(f"{API_PREFIX}/", include_in_schema=False)
    async def api_index() -> dict[str, Any]:
        """Where to go from the API's root: the address `make run` prints first."""
        return {
            "name": "TestOps API",
            "version": app.version,
            "links": {
                "docs": f"{API_PREFIX}/docs",
                "redoc": f"{API_PREFIX}/redoc",
                "openapi": f"{API_PREFIX}/openapi.json",
                "health": "/healthz",
                "ready": "/readyz",
                "metrics": "/metrics",
            },
            "resources": {
                name: f"{API_PREFIX}/{name}"
                for name in ("test-cases", "suites", "tags", "runs", "executions")
            },
        }

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        names = list(upstreams)
        outcomes = await asyncio.gather(
            _database_readiness(app), *(_readiness(upstreams[n], settings) for n in names)
        )
        checks = dict(zip(["database", *names], outcomes, strict=True))
        ready = all(outcome == "ok" for outcome in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    # Outermost last: request id and access log, then CORS, then who may call what (and the
    # forwarding), then the JSON body limits and HEAD answered as GET on the gateway's own
    # routes (forwarded ones go on as HEAD, with their bodies untouched).
    app.add_middleware(HeadAsGet)
    app.add_middleware(JsonBodyLimits)
    app.add_middleware(
        AccessControl,
        proxy=proxy,
        authenticator=authenticator,
        limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        audit=audit,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Range",
                "X-Request-ID",
                CSRF_HEADER,
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Retry-After",
                "Content-Range",
                "Content-Disposition",
                "X-Request-ID",
                "X-Log-Size",
                "X-More-Data",
            ],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    return app


async def _database_readiness(app: FastAPI) -> str:
    """``ok``, or why the gateway's own database is not ready."""
    check = app.state.readiness_checks.get("database")
    if check is None:
        return "not open"
    try:
        await check()
    except Exception as exc:  # any failure means "not ready", said why
        return str(exc) or type(exc).__name__
    return "ok"


async def _say_who_may_call(
    database: Database, settings: GatewaySettings, tokens: TokenStore
) -> None:
    """Warn when no one could call: no token line, no admin who can sign in, auth on."""
    if settings.auth_disabled:
        log.warning("auth_disabled", host=settings.host)
        return
    if tokens:
        return
    async with database.session() as session:
        if await UserRepository(session).any_admin_can_sign_in():
            return
    log.warning(
        "no_admin",
        detail="no token line and no admin who can sign in: make one with "
        "`testops-gateway create-user --admin <name>`",
    )


async def _readiness(upstream: Upstream, settings: GatewaySettings) -> str:
    """``ok``, or why ``upstream`` is not ready."""
    try:
        response = await upstream.client.get("/readyz", timeout=settings.readiness_timeout_s)
    except httpx.TimeoutException:
        return f"no answer within {settings.readiness_timeout_s:g} s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if response.status_code == 200:
        return "ok"
    try:
        checks = response.json().get("checks", {})
        failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    except ValueError:
        failing = ""
    return f"not ready ({failing or response.status_code})"
