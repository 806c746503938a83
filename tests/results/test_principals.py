"""Who results answers, asked straight, as something on its network would: a results process
(``python -m testops_results``) takes the principals the gateway signs, and the executor's for
its uploads alone; nothing else gets past ``/healthz`` and ``/readyz``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.results.allure_data import result_file_named
from tests.results.results_api import (
    API,
    JSON,
    SignedBy,
    admin_of,
    executor_auth,
    form_files,
    new_project_key,
    new_run_name,
)

from testops_kit import testing
from testops_kit.principal import (
    GATEWAY_ISSUER,
    PrincipalSigner,
    generate_private_key,
    load_private_key,
)
from testops_kit.testing import (
    TEST_PRINCIPAL,
    PrincipalAuth,
    ServiceProcess,
    assert_problem,
    service_process,
)

PREFIX = "TESTOPS_RESULTS_"


@pytest.fixture(scope="module")
def settings(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
) -> dict[str, str]:
    """A new database and storage (made outside the event loop)."""
    return {
        "database_url": database_url_factory("principals"),
        **{name: str(value) for name, value in storage_settings_factory("principals").items()},
        "log_format": "json",
    }


@pytest.fixture(scope="module")
async def results(
    settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    """A results process trusting the test gateway key and the test executor key."""
    async with service_process(
        "testops_results",
        prefix=PREFIX,
        folder=tmp_path_factory.mktemp("principals"),
        settings=settings,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def one_result(allure_results: Path) -> list[Path]:
    return [result_file_named(allure_results, "test_pays_with_card")]


def signed(process: ServiceProcess, auth: httpx.Auth | None) -> httpx.AsyncClient:
    """A client of ``process`` that signs with ``auth`` (None: sends no principal)."""
    return httpx.AsyncClient(base_url=process.url, trust_env=False, timeout=30, auth=auth)


def root(path_form: str, project: str) -> str:
    return API if path_form == "unscoped" else f"{API}/projects/{project}"


async def upload(client: httpx.AsyncClient, api: str, files: list[Path], **fields: str) -> JSON:
    response = await client.post(
        f"{api}/runs", data={"run_name": new_run_name(), **fields}, files=form_files(files)
    )
    assert response.status_code == 201, response.text
    run: JSON = response.json()
    return run


# --- the gateway's principal, and nothing that stands for it


def signed_by_another_key() -> httpx.Auth:
    signer = PrincipalSigner(load_private_key(generate_private_key()), issuer=GATEWAY_ISSUER)
    return SignedBy(signer, TEST_PRINCIPAL)


def expired() -> httpx.Auth:
    an_hour_ago = time.time() - 3600
    signer = PrincipalSigner(
        load_private_key(testing.test_signing_key()),
        issuer=GATEWAY_ISSUER,
        clock=lambda: an_hour_ago,
    )
    return SignedBy(signer, TEST_PRINCIPAL)


def for_another_service() -> httpx.Auth:
    return PrincipalAuth("catalog")


REFUSED = {
    "without-a-principal": lambda: None,
    "signed-by-another-key": signed_by_another_key,
    "expired": expired,
    "for-another-service": for_another_service,
}

ROUTES = [
    ("GET", "/runs"),
    ("POST", "/runs"),
    ("GET", "/runs/1"),
    ("DELETE", "/runs/1"),
    ("POST", "/runs/1/files"),
    ("GET", "/runs/1/results"),
    ("GET", "/results/1"),
    ("GET", "/attachments/1/content"),
    ("GET", "/tests/abc/history"),
    ("GET", "/analytics/flaky?name=nightly"),
    ("GET", "/runs/1/report"),
]


@pytest.mark.parametrize("kind", sorted(REFUSED))
@pytest.mark.parametrize("form", ["unscoped", "scoped"])
async def test_a_request_without_a_valid_principal_is_refused_on_every_route(
    results: ServiceProcess, kind: str, form: str
) -> None:
    auth = REFUSED[kind]()
    async with signed(results, auth) as client:
        for method, path in ROUTES:
            response = await client.request(method, root(form, "DEFAULT") + path)

            body = assert_problem(response, 401, "unauthenticated")
            assert "gateway" in body["detail"]


async def test_a_refused_upload_keeps_nothing(
    results: ServiceProcess, one_result: list[Path]
) -> None:
    name = new_run_name()
    async with (
        signed(results, expired()) as stranger,
        results.client() as client,
    ):
        response = await stranger.post(
            f"{API}/runs", data={"run_name": name}, files=form_files(one_result)
        )
        listed = await client.get(f"{API}/runs", params={"name": name})

    assert_problem(response, 401, "unauthenticated")
    assert listed.json()["items"] == []


async def test_health_and_readiness_answer_without_a_principal(results: ServiceProcess) -> None:
    async with results.client(principal=None) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200


async def test_a_principal_of_the_gateway_is_answered(results: ServiceProcess) -> None:
    async with results.client() as client:
        response = await client.get(f"{API}/runs", params={"limit": 1})

    assert response.status_code == 200, response.text


# --- the executor's principal: uploads, in the execution's project


async def test_an_execution_s_upload_lands_in_the_execution_s_project(
    results: ServiceProcess, one_result: list[Path], path_form: str
) -> None:
    project = new_project_key()
    api = root(path_form, project)
    execution_id = str(uuid.uuid4())
    async with (
        signed(results, executor_auth(project, execution_id)) as executor,
        results.client(principal=admin_of(project)) as member,
        results.client() as default,
    ):
        run = await upload(executor, api, one_result, execution_id=execution_id)
        shard = await executor.post(
            f"{api}/runs/{run['id']}/files", files=form_files(one_result[:1])
        )
        in_project = await member.get(f"{API}/runs/{run['id']}")
        elsewhere = await default.get(f"{API}/runs/{run['id']}")

    assert run["source"] == "execution"
    assert shard.status_code == 200, shard.text
    assert in_project.status_code == 200, in_project.text
    assert in_project.json()["execution_id"] == execution_id
    assert_problem(elsewhere, 404, "run_not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs"),
        ("GET", "/runs/{id}"),
        ("DELETE", "/runs/{id}"),
        ("POST", "/runs/{id}/restore"),
        ("GET", "/runs/{id}/results"),
        ("GET", "/runs/{id}/attachments"),
        ("GET", "/runs/{id}/failures"),
        ("POST", "/runs/{id}/report"),
        ("GET", "/runs/{id}/report"),
        ("GET", "/analytics/trends?name=nightly"),
    ],
)
async def test_the_executor_s_principal_may_not_read_list_or_delete(
    results: ServiceProcess, one_result: list[Path], path_form: str, method: str, path: str
) -> None:
    project = new_project_key()
    api = root(path_form, project)
    execution_id = str(uuid.uuid4())
    async with (
        signed(results, executor_auth(project, execution_id)) as executor,
        results.client(principal=admin_of(project)) as member,
    ):
        run = await upload(executor, api, one_result, execution_id=execution_id)

        response = await executor.request(method, api + path.format(id=run["id"]))

        assert_problem(response, 401, "unauthenticated")
        after = await member.get(f"{API}/runs/{run['id']}")
    assert after.json() == run


async def test_the_executor_s_principal_acts_in_its_own_project_only(
    results: ServiceProcess, one_result: list[Path]
) -> None:
    project = new_project_key()
    execution_id = str(uuid.uuid4())
    async with signed(results, executor_auth(project, execution_id)) as executor:
        response = await executor.post(
            f"{API}/projects/{new_project_key()}/runs",
            data={"run_name": new_run_name(), "execution_id": execution_id},
            files=form_files(one_result),
        )

    assert_problem(response, 404, "project_not_found")


@pytest.mark.parametrize("sent", [None, "another"], ids=["no-execution-id", "another-execution"])
async def test_an_execution_s_principal_uploads_no_other_execution_s_run(
    results: ServiceProcess, one_result: list[Path], sent: str | None
) -> None:
    project = new_project_key()
    fields = {"execution_id": str(uuid.uuid4())} if sent else {}
    async with (
        signed(results, executor_auth(project, str(uuid.uuid4()))) as executor,
        results.client(principal=admin_of(project)) as member,
    ):
        name = new_run_name()
        response = await executor.post(
            f"{API}/runs", data={"run_name": name, **fields}, files=form_files(one_result)
        )
        listed = await member.get(f"{API}/runs", params={"name": name})

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "execution_id"]
    assert listed.json()["items"] == []


# --- keys at start-up


async def test_without_the_executor_s_key_results_starts_and_refuses_its_uploads(
    settings: dict[str, str],
    database_url_factory: Callable[[str], str],
    tmp_path: Path,
    one_result: list[Path],
) -> None:
    database_url = await asyncio.to_thread(database_url_factory, "no-executor-key")
    async with (
        service_process(
            "testops_results",
            prefix=PREFIX,
            folder=tmp_path,
            settings={**settings, "database_url": database_url, "executor_public_key": ""},
        ) as process,
        signed(process, executor_auth("DEFAULT", str(uuid.uuid4()))) as executor,
        process.client() as gateway,
    ):
        refused = await executor.post(
            f"{API}/runs", data={"run_name": new_run_name()}, files=form_files(one_result)
        )
        await upload(gateway, API, one_result)

    assert_problem(refused, 401, "unauthenticated")
    [warning] = [e for e in process.log_events() if e["event"] == "executor_uploads_refused"]
    assert warning["level"] == "warning"
    assert warning["setting"] == "TESTOPS_RESULTS_EXECUTOR_PUBLIC_KEY"


async def start_without(tmp_path: Path, **settings: str) -> tuple[int, str]:
    """``testops-results`` started with ``settings`` and no key of the test harness: its exit
    code and what it wrote."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIX)}
    env.update(
        {
            f"{PREFIX}DATA_DIR": str(tmp_path),
            f"{PREFIX}DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'results.db'}",
            **{f"{PREFIX}{name.upper()}": value for name, value in settings.items()},
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testops_results",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_without_the_gateway_s_key_results_refuses_to_start(tmp_path: Path) -> None:
    code, output = await start_without(tmp_path)

    assert code == 2, output
    assert "TESTOPS_RESULTS_PRINCIPAL_PUBLIC_KEY" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results.db").exists()


async def test_an_executor_key_file_named_but_missing_stops_the_start(tmp_path: Path) -> None:
    code, output = await start_without(
        tmp_path,
        principal_public_key=testing.test_public_key(),
        executor_public_key_file=str(tmp_path / "nowhere.pub"),
    )

    assert code == 2, output
    assert "TESTOPS_RESULTS_EXECUTOR_PUBLIC_KEY" in output
    assert "nowhere.pub" in output
