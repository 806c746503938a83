"""/healthz says the process is alive; /readyz says its database answers and is migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ClassVar

import httpx
import pytest
import structlog
from fastapi import FastAPI
from structlog.testing import capture_logs

from testops_catalog.main import MIGRATIONS
from testops_kit.app import open_database
from testops_kit.migrations import head_revision
from testops_kit.settings import DatabaseSettings, service_config
from testops_kit.testing import app_client


class ProbeSettings(DatabaseSettings):
    model_config = service_config("TESTOPS_KIT_PROBE_")
    service_name: ClassVar[str] = "probe"


def database_app(build_app: Callable[..., FastAPI], settings: DatabaseSettings) -> FastAPI:
    """An app whose lifespan opens its database the way every service does."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, MIGRATIONS):
            yield

    return build_app(lifespan=lifespan)


@pytest.fixture
def migrated_database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("probe_migrated")


@pytest.fixture
def empty_database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("probe_empty")


@pytest.fixture
async def migrated_client(
    build_app: Callable[..., FastAPI], migrated_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ProbeSettings(database_url=migrated_database_url, migrate_on_start=True)
    async with app_client(database_app(build_app, settings)) as client:
        yield client


@pytest.fixture
async def unmigrated_client(
    build_app: Callable[..., FastAPI], empty_database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ProbeSettings(database_url=empty_database_url, migrate_on_start=False)
    async with app_client(database_app(build_app, settings)) as client:
        yield client


async def test_healthz_answers_200_ok(migrated_client: httpx.AsyncClient) -> None:
    response = await migrated_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_answers_200_even_when_the_process_is_not_ready(
    unmigrated_client: httpx.AsyncClient,
) -> None:
    response = await unmigrated_client.get("/healthz")

    assert response.status_code == 200


async def test_readyz_answers_200_with_the_database_ok_once_migrated(
    migrated_client: httpx.AsyncClient,
) -> None:
    response = await migrated_client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_answers_503_naming_the_database_when_it_is_not_at_head(
    unmigrated_client: httpx.AsyncClient,
) -> None:
    response = await unmigrated_client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert set(body["checks"]) == {"database"}
    assert body["checks"]["database"] == (
        f"database is at revision None, expected {head_revision(MIGRATIONS)}"
    )


async def test_readyz_answers_503_when_the_database_cannot_be_reached(
    build_app: Callable[..., FastAPI],
) -> None:
    settings = ProbeSettings(
        database_url="postgresql://nobody@127.0.0.1:1/nothing", migrate_on_start=False
    )

    async with app_client(database_app(build_app, settings)) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["database"] != "ok"


async def test_successful_probes_are_not_access_logged_but_failing_ones_are(
    migrated_client: httpx.AsyncClient, unmigrated_client: httpx.AsyncClient
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await migrated_client.get("/healthz")
        await migrated_client.get("/readyz")
        await unmigrated_client.get("/readyz")

    access = [(e["path"], e["status"]) for e in events if e["event"] == "request"]
    assert access == [("/readyz", 503)]
