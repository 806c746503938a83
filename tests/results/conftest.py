"""The results app on each storage, allure-results made by the real writer, and upload fixtures.

Every test here runs once per storage (``file`` and ``s3``): ``storage_settings_factory`` is
parametrized over both, and the session's apps are built on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.results.allure_data import (
    ExpectedRun,
    expected_run,
    flaky_suite,
    generate_allure_results,
)
from tests.results.results_api import (
    API,
    JSON,
    SMALL_MAX_ARCHIVE_BYTES,
    SMALL_MAX_ARCHIVE_MEMBERS,
    SMALL_MAX_UPLOAD_FILES,
    CreateRun,
    NewProject,
    PostRun,
    Project,
    Stored,
    Upload,
    every_item,
    executor_key_settings,
    folder_files,
    gateway_auth,
    new_project_key,
    post_run_with,
    stored_by,
)

from testops_kit.testing import app_client, principal_settings
from testops_results.main import create_app
from testops_results.settings import ResultsSettings

# --- allure data


@pytest.fixture(scope="session")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The allure-results folder of the standard suite, generated once per session."""
    return generate_allure_results(tmp_path_factory.mktemp("allure"))


@pytest.fixture(scope="session")
def another_allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second run of the standard suite: same tests, new uuids, new excluded parameters."""
    return generate_allure_results(tmp_path_factory.mktemp("allure-again"))


@pytest.fixture(scope="session")
def flips_failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flaky suite with ``test_flips`` failing (see :func:`flaky_suite`)."""
    return generate_allure_results(
        tmp_path_factory.mktemp("flaky-failing"), suite=flaky_suite(flip_passes=False)
    )


@pytest.fixture(scope="session")
def flips_passing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flaky suite with ``test_flips`` passing (see :func:`flaky_suite`)."""
    return generate_allure_results(
        tmp_path_factory.mktemp("flaky-passing"), suite=flaky_suite(flip_passes=True)
    )


@pytest.fixture(scope="session")
def expected(allure_results: Path) -> ExpectedRun:
    """What a run of the whole standard suite must report."""
    return expected_run(allure_results)


# --- apps and clients


@pytest.fixture(scope="session")
def results_settings_factory(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., ResultsSettings]:
    """Settings of a results app on a new database and storage, trusting the test signing
    key (as the gateway's) and the test executor key; ``overrides`` win."""

    def make(name: str = "results", **overrides: Any) -> ResultsSettings:
        values: dict[str, Any] = {
            "database_url": database_url_factory(name),
            **storage_settings_factory(name),
            "data_dir": tmp_path_factory.mktemp(name),
            **principal_settings(),
            **executor_key_settings(),
            **overrides,
        }
        return ResultsSettings(**values)

    return make


@pytest.fixture(scope="session")
def results_app(results_settings_factory: Callable[..., ResultsSettings]) -> FastAPI:
    """The session's results app (its ``state`` is live while ``client`` is)."""
    return create_app(results_settings_factory())


@pytest.fixture(scope="session")
async def client(results_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(results_app) as client:
        yield client


@pytest.fixture(scope="session")
def small_app(results_settings_factory: Callable[..., ResultsSettings]) -> FastAPI:
    """A results app with tiny upload limits, for the limit tests."""
    return create_app(
        results_settings_factory(
            "results-small",
            max_upload_files=SMALL_MAX_UPLOAD_FILES,
            max_archive_members=SMALL_MAX_ARCHIVE_MEMBERS,
            max_archive_bytes=SMALL_MAX_ARCHIVE_BYTES,
        )
    )


@pytest.fixture(scope="session")
async def small_client(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(small_app) as client:
        yield client


# --- projects


@pytest.fixture(params=["unscoped", "scoped"])
def path_form(request: pytest.FixtureRequest) -> str:
    """``unscoped`` (``/api/v1/runs``, the principal's project) or ``scoped``
    (``/api/v1/projects/{key}/runs``): tests that use it run in both forms."""
    form: str = request.param
    return form


@pytest.fixture
async def new_project(
    results_app: FastAPI, client: httpx.AsyncClient, path_form: str
) -> AsyncIterator[NewProject]:
    """``new_project()``: a project no other test acts in, with a client of the session's app
    signed for it and the path form of the test."""
    made: list[httpx.AsyncClient] = []

    def make() -> Project:
        key = new_project_key()
        project_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=results_app),
            base_url="http://testserver",
            auth=gateway_auth(key),
        )
        made.append(project_client)
        return Project(
            key, project_client, API if path_form == "unscoped" else f"{API}/projects/{key}"
        )

    yield make
    for project_client in made:
        await project_client.aclose()


# --- uploads


@pytest.fixture
def post_run(client: httpx.AsyncClient) -> PostRun:
    """``await post_run(files, **fields)``: the raw response of ``POST /runs``."""

    async def post(files: Iterable[Upload], **fields: str) -> httpx.Response:
        return await post_run_with(client, files, **fields)

    return post


@pytest.fixture
def create_run(client: httpx.AsyncClient) -> CreateRun:
    """``await create_run(files, **fields)``: upload a run (it must succeed) and return it."""

    async def create(files: Iterable[Upload], **fields: str) -> JSON:
        response = await post_run_with(client, files, **fields)
        assert response.status_code == 201, response.text
        run: JSON = response.json()
        return run

    return create


@pytest.fixture(scope="session")
async def uploaded_run(client: httpx.AsyncClient, allure_results: Path) -> JSON:
    """The standard suite uploaded once per storage as loose files; for read-only tests."""
    response = await post_run_with(client, folder_files(allure_results))
    assert response.status_code == 201, response.text
    run: JSON = response.json()
    return run


@pytest.fixture
def run_results(client: httpx.AsyncClient) -> Callable[..., Awaitable[list[JSON]]]:
    """``await run_results(run_id, **filters)``: every result item of a run."""

    async def read(run_id: int, **params: Any) -> list[JSON]:
        return await every_item(client, f"{API}/runs/{run_id}/results", **params)

    return read


@pytest.fixture
def read_result(client: httpx.AsyncClient) -> Callable[[int], Awaitable[JSON]]:
    """Fetch one result in full (it must be there)."""

    async def read(result_id: int) -> JSON:
        response = await client.get(f"{API}/results/{result_id}")
        assert response.status_code == 200, response.text
        result: JSON = response.json()
        return result

    return read


@pytest.fixture
def stored(client: httpx.AsyncClient, results_app: FastAPI) -> Callable[[], Awaitable[Stored]]:
    """``await stored()``: what the session's app keeps right now."""
    return lambda: stored_by(client, results_app)


@pytest.fixture
def small_stored(
    small_client: httpx.AsyncClient, small_app: FastAPI
) -> Callable[[], Awaitable[Stored]]:
    """``await small_stored()``: what the small-limits app keeps right now."""
    return lambda: stored_by(small_client, small_app)
