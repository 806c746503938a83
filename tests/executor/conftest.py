"""The executor on real git repositories, real uv and pytest, and a real results service.

- ``repos``: small pytest projects with a ``uv.lock``, as local bare repositories (session).
- ``results_service``: the results service as a child process on a free port; executions
  upload to it over HTTP, with the principal the executor signs (session).
- ``executor``: an executor app on a new database of its own, its worker running (per test);
  ``start_executor(**overrides)`` makes others (other limits, a shared database). Its client
  signs the test principal into every request, as the gateway does; ``executor.client_as(...)``
  acts as another.

Every execution shares one uv cache for the session; ``warm_uv_cache`` runs the passing
repository once first, so the tests that count seconds (timeouts, cancel) start warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.executor.executor_api import (
    API,
    SHOP,
    assert_ended,
    member_of,
    post_execution,
    scoped,
    wait_finished,
)
from tests.executor.processes import ExecutorProcess, spawn_executor
from tests.executor.repositories import HangingPids, Repos, make_repos, pid_files

from testops_executor.main import create_app
from testops_executor.settings import ExecutorSettings
from testops_kit.database import Database
from testops_kit.principal import Principal
from testops_kit.testing import (
    PrincipalAuth,
    ServiceProcess,
    app_client,
    principal_settings,
    service_process,
    upload_signing_settings,
)

COLD_RUN_WITHIN_S = 240.0
"""The first execution fills the uv cache from the package index."""


@dataclass(frozen=True, slots=True)
class Executor:
    """An executor app with its lifespan (and so its worker) running."""

    client: httpx.AsyncClient
    app: FastAPI
    settings: ExecutorSettings

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database

    def client_as(self, principal: Principal) -> httpx.AsyncClient:
        """Another client of this app (its lifespan already running), acting as
        ``principal``."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://testserver",
            auth=PrincipalAuth("executor", principal),
        )


ExecutorSettingsFactory = Callable[..., Awaitable[ExecutorSettings]]
StartExecutor = Callable[..., AbstractAsyncContextManager[Executor]]
StartExecutorProcess = Callable[..., Awaitable[ExecutorProcess]]


# --- repositories and the uv cache


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for every execution of the session: installs are warm after the first."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="session")
def pid_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where runs of the hanging repository write their pids. Whatever a failed test left
    running of them is killed at the end of the session."""
    folder = tmp_path_factory.mktemp("hanging-pids")
    yield folder
    for path in pid_files(folder):
        pids = HangingPids.read(path)
        for pid in (pids.sleep, pids.pytest):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def repos(tmp_path_factory: pytest.TempPathFactory, pid_dir: Path, uv_cache_dir: Path) -> Repos:
    return make_repos(tmp_path_factory.mktemp("repos"), pid_dir=pid_dir, uv_cache_dir=uv_cache_dir)


# --- the results service


@pytest.fixture(scope="session")
def results_database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("exec_results")


@pytest.fixture(scope="session")
async def results_service(
    results_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    """The results service in a child process of its own, answering on a free port, trusting
    the test executor key (:func:`~testops_kit.testing.service_process`)."""
    folder = tmp_path_factory.mktemp("exec-results")
    async with service_process(
        "testops_results",
        prefix="TESTOPS_RESULTS_",
        folder=folder,
        settings={
            "database_url": results_database_url,
            "storage_url": f"file://{folder / 'blobs'}",
        },
    ) as results:
        yield results


@pytest.fixture(scope="session")
def results_url(results_service: ServiceProcess) -> str:
    return results_service.url


@pytest.fixture(scope="session")
async def results(results_service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the results service the executions upload to, as the test principal (in
    the default project)."""
    async with results_service.client() as client:
        yield client


# --- executor apps


@pytest.fixture(scope="session")
def executor_settings(
    database_url_factory: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
    results_url: str,
    uv_cache_dir: Path,
) -> ExecutorSettingsFactory:
    """``await executor_settings(**overrides)``: settings of an executor on a new database
    (unless ``database_url`` is given) and data folder, uploading to the session's results
    service, allowing ``file://`` repositories, with short leases and grace; it trusts the
    test gateway key and signs its uploads with the test executor key."""

    async def make(name: str = "executor", **overrides: Any) -> ExecutorSettings:
        if "database_url" not in overrides:
            # The factory runs its own event loop on PostgreSQL: not on this one.
            overrides["database_url"] = await asyncio.to_thread(database_url_factory, name)
        values: dict[str, Any] = {
            **principal_settings(),
            **upload_signing_settings(),
            "data_dir": tmp_path_factory.mktemp(name),
            "results_url": results_url,
            "allowed_repo_schemes": ["https", "file"],
            "kill_grace_s": 2,
            "lease_s": 5,
            "poll_interval_s": 0.2,
            "uv_cache_dir": uv_cache_dir,
            **overrides,
        }
        return ExecutorSettings(**values)

    return make


@asynccontextmanager
async def running_executor(settings: ExecutorSettings) -> AsyncIterator[Executor]:
    app = create_app(settings)
    async with app_client(app) as client:
        yield Executor(client=client, app=app, settings=settings)


@pytest.fixture(scope="session")
async def warm_uv_cache(executor_settings: ExecutorSettingsFactory, repos: Repos) -> None:
    """One execution of the passing repository before the tests: it fills the uv cache (the
    project's environment and the ``--with allure-pytest`` one)."""
    async with running_executor(await executor_settings("warm-up")) as executor:
        created = await post_execution(executor.client, repos.passing)
        execution = await wait_finished(executor.client, created["id"], within=COLD_RUN_WITHIN_S)
        await assert_ended(executor.client, execution, "completed", "passed")


@pytest.fixture
def start_executor(
    executor_settings: ExecutorSettingsFactory, warm_uv_cache: None
) -> StartExecutor:
    """``async with start_executor(**overrides) as executor``: another executor app."""

    @asynccontextmanager
    async def start(name: str = "executor", **overrides: Any) -> AsyncIterator[Executor]:
        async with running_executor(await executor_settings(name, **overrides)) as executor:
            yield executor

    return start


@pytest.fixture
async def executor(start_executor: StartExecutor) -> AsyncIterator[Executor]:
    """The test's executor: a new database, an idle worker."""
    async with start_executor() as executor:
        yield executor


@pytest.fixture
def client(executor: Executor) -> httpx.AsyncClient:
    return executor.client


@pytest.fixture
async def shop(executor: Executor) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the test's executor acting as an editor of the project SHOP."""
    async with executor.client_as(member_of(SHOP)) as client:
        yield client


@pytest.fixture(params=["unscoped", "scoped"])
def shop_root(request: pytest.FixtureRequest) -> str:
    """The root of the path form ``shop`` uses: ``/api/v1`` (its principal's project) and
    ``/api/v1/projects/SHOP``."""
    return API if request.param == "unscoped" else scoped(SHOP)


@pytest.fixture
async def start_executor_process(
    tmp_path: Path, warm_uv_cache: None
) -> AsyncIterator[StartExecutorProcess]:
    """``await start_executor_process(settings, **env)``: an executor in a child process with
    ``env`` added to its environment, answering HTTP; stopped (TERM) at the end of the test
    unless the test stopped it."""
    started: list[ExecutorProcess] = []

    async def start(settings: ExecutorSettings, **env: str) -> ExecutorProcess:
        log = tmp_path / f"executor-process-{len(started) + 1}.log"
        process = await asyncio.to_thread(spawn_executor, settings, log, env)
        started.append(process)
        await process.ready()
        return process

    try:
        yield start
    finally:
        for process in started:
            await process.stop()
