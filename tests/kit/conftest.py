"""Tiny apps built with the kit's factory, for the kit's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI

from testops_kit.app import create_service_app

AppFactory = Callable[..., FastAPI]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def build_app() -> AppFactory:
    """``build_app(router, lifespan=...)``: a service app made by the kit's factory."""

    def build(*routers: APIRouter, lifespan: Lifespan = _no_lifespan) -> FastAPI:
        return create_service_app(
            title="kit test",
            description="The kit under test.",
            version="0",
            routers=routers,
            lifespan=lifespan,
        )

    return build


@pytest.fixture
def lenient_client() -> Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]:
    """Like ``app_client``, but an exception that escapes the app is left to the app's 500."""

    @asynccontextmanager
    async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

    return open_client
