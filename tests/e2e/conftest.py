"""End to end: the four real processes for the session, reached only through the gateway.

- ``deployment``: catalog, results and executor as child processes on free ports, each on a new
  database (SQLite files, or PostgreSQL when ``TESTOPS_TEST_POSTGRES_URL`` is set), catalog and
  results on a new storage namespace, and the gateway in front of them (``stack.deploy``). It is
  on one storage per database, so that CI's two runs cover both without deploying twice:
  a local folder with SQLite, S3 (moto's server) with PostgreSQL; ``TESTOPS_TEST_STORAGES``
  chooses others (``file,s3``: both).
- ``ci``, ``reader``, ``anonymous``: clients of the gateway's HTTP port with the pipeline's
  token, a read-only one, and none.
- ``shop_repo``: a local bare git repository of a small pytest project with a ``uv.lock``;
  every execution of the session shares one uv cache.
- ``allure_results``: an allure-results folder written by the real allure-pytest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.stack import SHOP_FILES, Deployment, deploy
from tests.executor.repositories import Repo, make_repo, pyproject
from tests.results.allure_data import generate_allure_results

from testops_kit.testing import TEST_STORAGES_ENV, postgres_test_url, test_storages


def e2e_storages() -> list[str]:
    if os.environ.get(TEST_STORAGES_ENV):
        return test_storages()
    return ["s3"] if postgres_test_url() else ["file"]


@pytest.fixture(scope="session", params=e2e_storages())
def storage_backend(request: pytest.FixtureRequest) -> str:
    """The storage of this session's deployment (see the module's docstring)."""
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
