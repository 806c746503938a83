"""The executor answers only requests the gateway vouches for: straight to its process, a request
without a principal, with one signed by another key, an expired one, or one for another service
is 401."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.executor.conftest import ExecutorSettingsFactory, StartExecutorProcess
from tests.executor.executor_api import API, scoped
from tests.executor.processes import ExecutorProcess

from testops_kit.principal import (
    EXECUTOR_ISSUER,
    GATEWAY_ISSUER,
    HEADER,
    LEEWAY_S,
    LIFETIME_S,
    PrincipalSigner,
    generate_private_key,
    load_private_key,
)
from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.testing import (
    TEST_PRINCIPAL,
    assert_problem,
    upload_signing_settings,
)
from testops_kit.testing import test_signing_key as gateway_key

PATHS = [
    pytest.param(f"{API}/executions", id="unscoped"),
    pytest.param(f"{scoped(DEFAULT_PROJECT)}/executions", id="scoped"),
]


@pytest.fixture
async def service(
    executor_settings: ExecutorSettingsFactory, start_executor_process: StartExecutorProcess
) -> ExecutorProcess:
    return await start_executor_process(await executor_settings("guarded"))


@pytest.fixture
async def anonymous(service: ExecutorProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the executor process that signs nothing itself."""
    async with httpx.AsyncClient(base_url=service.url, trust_env=False, timeout=30) as client:
        yield client


def signed(
    key: bytes, *, issuer: str = GATEWAY_ISSUER, audience: str = "executor", age_s: float = 0
) -> dict[str, str]:
    """The principal header of the test principal, signed with ``key`` ``age_s`` ago."""
    signer = PrincipalSigner(
        load_private_key(key), issuer=issuer, clock=lambda: time.time() - age_s
    )
    return {HEADER: signer.sign(TEST_PRINCIPAL, audience=audience)}


async def assert_nothing_queued(service: ExecutorProcess) -> None:
    listed = await service.client.get(f"{API}/executions")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


@pytest.mark.parametrize("path", PATHS)
async def test_a_request_without_a_principal_is_unauthenticated(
    service: ExecutorProcess, anonymous: httpx.AsyncClient, path: str
) -> None:
    listed = await anonymous.get(path)
    posted = await anonymous.post(
        path, json={"repo_url": "https://x.invalid/r.git", "suite": {"name": "tests/"}}
    )

    assert_problem(listed, 401, "unauthenticated")
    assert_problem(posted, 401, "unauthenticated")
    await assert_nothing_queued(service)


@pytest.mark.parametrize("path", PATHS)
async def test_a_principal_signed_with_another_key_is_unauthenticated(
    service: ExecutorProcess, anonymous: httpx.AsyncClient, path: str
) -> None:
    response = await anonymous.get(path, headers=signed(generate_private_key()))

    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("path", PATHS)
async def test_an_expired_principal_is_unauthenticated(
    anonymous: httpx.AsyncClient, path: str
) -> None:
    stale = signed(gateway_key(), age_s=LIFETIME_S + LEEWAY_S + 5)

    response = await anonymous.get(path, headers=stale)

    assert_problem(response, 401, "unauthenticated")
    fresh = await anonymous.get(path, headers=signed(gateway_key()))
    assert fresh.status_code == 200, fresh.text


@pytest.mark.parametrize("path", PATHS)
async def test_a_principal_for_another_service_is_unauthenticated(
    anonymous: httpx.AsyncClient, path: str
) -> None:
    response = await anonymous.get(path, headers=signed(gateway_key(), audience="results"))

    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("path", PATHS)
async def test_the_executors_own_upload_principal_is_unauthenticated_on_the_executor(
    anonymous: httpx.AsyncClient, path: str
) -> None:
    """The key the executor signs its uploads with vouches for nothing on the executor."""
    upload_key = upload_signing_settings()["upload_signing_key"].encode()

    response = await anonymous.get(path, headers=signed(upload_key, issuer=EXECUTOR_ISSUER))

    assert_problem(response, 401, "unauthenticated")


async def test_probes_answer_without_a_principal(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = await anonymous.get(path)
        assert response.status_code == 200, (path, response.text)
