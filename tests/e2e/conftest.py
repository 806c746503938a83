"""End to end: the four real processes for the session, reached only through the gateway.

- ``deployment``: catalog, results and executor as child processes on free ports, each on a new
  database (SQLite files, or PostgreSQL when ``TESTOPS_TEST_POSTGRES_URL`` is set), catalog and
  results on a new storage namespace, and the gateway in front of them (``stack.deploy``): on
  the storage of ``test_storages()`` (a local folder with SQLite, S3 (moto's server) with
  PostgreSQL; ``TESTOPS_TEST_STORAGES=file,s3``: a deployment on each).
- With PostgreSQL, the same tests run a second time against ``make run-prod``
  (``production.run_production``): docker-compose.yml's settings, natively, with three executor
  processes on one queue.
- ``ci``, ``reader``, ``anonymous``: clients of the gateway's HTTP port with the pipeline's
  token, a read-only one, and none.
- ``shop_repo``: a local bare git repository of a small pytest project with a ``uv.lock``;
  every execution of the session shares one uv cache.
- ``allure_results``: an allure-results folder written by the real allure-pytest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.production import run_production
from tests.e2e.stack import SHOP_FILES, Deployment, deploy
from tests.executor.repositories import Repo, make_repo, pyproject
from tests.results.allure_data import generate_allure_results

from testops_kit.testing import postgres_test_url, test_storages

PRODUCTION = "prod"
"""The deployment of ``make run-prod`` (PostgreSQL and S3)."""


def e2e_deployments() -> list[str]:
    """The storage of each deployment the tests run against, or :data:`PRODUCTION`."""
    return [*test_storages(), PRODUCTION] if postgres_test_url() else test_storages()


@pytest.fixture(scope="session", params=e2e_deployments())
def storage_backend(request: pytest.FixtureRequest) -> str:
    """The storage of this session's deployment, or ``prod`` (see the module's docstring)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for the session: the first execution fills it, the others are warm."""
    return tmp_path_factory.mktemp("e2e-uv-cache")


@pytest.fixture(scope="session")
async def deployment(
    database_url_factory: Callable[[str], str],
    storage_backend: str,
    storage_settings_factory: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
) -> AsyncIterator[Deployment]:
    if storage_backend == PRODUCTION:
        postgres_url = postgres_test_url()
        assert postgres_url is not None
        async with run_production(
            postgres_url=postgres_url, folder=tmp_path_factory.mktemp("e2e-prod")
        ) as production:
            yield production
        return

    async def database_url(name: str) -> str:
        # The factory runs its own event loop on PostgreSQL: not on this one.
        return await asyncio.to_thread(database_url_factory, name)

    async with deploy(
        database_url=database_url,
        storage_settings=storage_settings_factory,
        storage=storage_backend,
        folder=tmp_path_factory.mktemp,
        uv_cache_dir=uv_cache_dir,
    ) as deployed:
        yield deployed


@pytest.fixture(scope="session")
async def ci(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    """The CI pipeline: its token may read, write and execute."""
    async with deployment.client("ci") as client:
        yield client


@pytest.fixture(scope="session")
async def reader(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    async with deployment.client("reader") as client:
        yield client


@pytest.fixture(scope="session")
async def anonymous(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    async with deployment.client(None) as client:
        yield client


@pytest.fixture(scope="session")
def shop_repo(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Repo:
    return make_repo(
        tmp_path_factory.mktemp("e2e-repos"),
        "shop",
        {"pyproject.toml": pyproject("shop"), **SHOP_FILES},
        uv_cache_dir=uv_cache_dir,
        lock=True,
    )


@pytest.fixture(scope="session")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard suite of ``tests/results`` (steps, retries, attachments) run once."""
    return generate_allure_results(tmp_path_factory.mktemp("e2e-allure"))
