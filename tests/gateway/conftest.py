"""The gateway in front of the real services: catalog, results and executor run as child
processes for the session (their own databases, answering HTTP on free ports); each test
builds the gateway app it needs from settings and talks to it over its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from testops_gateway.auth import new_token, token_line
from testops_gateway.main import create_app
from testops_gateway.settings import GatewaySettings
from testops_kit.testing import (
    ServiceProcess,
    app_client,
    gateway_principal_settings,
    service_process,
)

if TYPE_CHECKING:
    from tests.gateway.identity import Admin

TOKEN_SCOPES = {
    "reader": ["read"],
    "writer": ["read", "write"],
    "runner": ["read", "write", "execute"],
    "root": ["admin"],
}
"""The test tokens, by name: what each may do."""


@dataclass(frozen=True)
class Upstreams:
    catalog: ServiceProcess
    results: ServiceProcess
    executor: ServiceProcess

    def urls(self) -> dict[str, str]:
        """The gateway settings that point at these services."""
        return {
            "catalog_url": self.catalog.url,
            "results_url": self.results.url,
            "executor_url": self.executor.url,
        }


@pytest.fixture(scope="session")
async def upstreams(
    database_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Upstreams]:
    """The three services for the session, each on a new database."""

    async def database(name: str) -> str:
        # The factory runs its own event loop on PostgreSQL: not on this one.
        return await asyncio.to_thread(database_url_factory, name)

    async with AsyncExitStack() as stack:
        started = []
        for name in ("catalog", "results", "executor"):
            folder = tmp_path_factory.mktemp(f"gateway-{name}")
            settings = {"database_url": await database(f"gw_{name}"), "log_level": "info"}
            if name == "executor":
                settings["allowed_repo_schemes"] = "https,file"
            started.append(
                stack.enter_async_context(
                    service_process(
                        f"testops_{name}",
                        prefix=f"TESTOPS_{name.upper()}_",
                        folder=folder,
                        settings=settings,
                    )
                )
            )
        catalog, results, executor = await asyncio.gather(*started)
        yield Upstreams(catalog=catalog, results=results, executor=executor)


@pytest.fixture(scope="session")
def gateway_database_url(database_url_factory: Callable[[str], str]) -> str:
    """The identity database the session's gateway apps share (each test makes the users and
    projects it needs, under names no other test uses)."""
    return database_url_factory("gateway")


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """A fresh token per name of :data:`TOKEN_SCOPES`."""
    return {name: new_token() for name in TOKEN_SCOPES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


StartGateway = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
_APPS: dict[httpx.AsyncClient, FastAPI] = {}


def app_of(client: httpx.AsyncClient) -> FastAPI:
    """The gateway app a client of :func:`start_gateway` talks to."""
    return _APPS[client]


@pytest.fixture
def start_gateway(
    upstreams: Upstreams, tokens: dict[str, str], gateway_database_url: str
) -> StartGateway:
    """``async with start_gateway(**overrides) as client``: a gateway app in front of the
    session's services, on the session's identity database, knowing the test tokens, without
    rate limits unless asked."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        lines = [token_line(name, TOKEN_SCOPES[name], token) for name, token in tokens.items()]
        values: dict[str, Any] = {
            **upstreams.urls(),
            "tokens": ";".join(lines),
            "rate_limit_per_s": 0,
            "database_url": gateway_database_url,
            **gateway_principal_settings(),
            **overrides,
        }
        app = create_app(GatewaySettings(**values))
        async with app_client(app) as client:
            _APPS[client] = app
            try:
                yield client
            finally:
                del _APPS[client]

    return start


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with start_gateway() as client:
        yield client


@pytest.fixture
def admin(gateway: httpx.AsyncClient, tokens: dict[str, str]) -> Admin:
    """The identity API as an instance admin (the `root` token line), on ``gateway``."""
    from tests.gateway.identity import Admin

    return Admin(gateway, tokens["root"])
