"""The catalog app on a fresh database for the session, and factories for what tests need."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from testops_catalog.main import create_app
from testops_catalog.settings import CatalogSettings
from testops_kit.testing import app_client

JSON = dict[str, Any]


@pytest.fixture(scope="session")
def catalog_settings(
    database_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> CatalogSettings:
    return CatalogSettings(
        database_url=database_url_factory("catalog"),
        data_dir=tmp_path_factory.mktemp("catalog-data"),
    )


@pytest.fixture(scope="session")
async def client(catalog_settings: CatalogSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(catalog_settings)) as client:
        yield client


@pytest.fixture
def create_case(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a test case (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("case"), **fields}
        response = await client.post("/api/v1/test-cases", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create


@pytest.fixture
def create_suite(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a suite (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("suite"), **fields}
        response = await client.post("/api/v1/suites", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create


@pytest.fixture
def create_tag(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a tag (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("tag"), **fields}
        response = await client.post("/api/v1/tags", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create
