"""The catalog answers only what came through the gateway: every request but the probes carries a
principal the gateway signed for the catalog, else 401 ``unauthenticated``.

``python -m testops_catalog`` in a child process, talked to straight over a socket, as anything
on the network could.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from testops_kit.principal import (
    GATEWAY_ISSUER,
    HEADER,
    PrincipalSigner,
    generate_private_key,
    load_private_key,
)
from testops_kit.testing import (
    TEST_PRINCIPAL,
    ServiceProcess,
    assert_problem,
    service_process,
)
from testops_kit.testing import test_signing_key as gateway_test_key

PATHS = [
    "/api/v1/test-cases",
    "/api/v1/projects/DEFAULT/test-cases",
    "/api/v1/suites/1",
    "/api/v1/projects/DEFAULT/tags",
    "/api/v1/openapi.json",
]


@pytest.fixture(scope="module")
async def catalog(
    database_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    database_url = await asyncio.to_thread(database_url_factory, "catalog_principal")
    async with service_process(
        "testops_catalog",
        prefix="TESTOPS_CATALOG_",
        folder=tmp_path_factory.mktemp("catalog-principal"),
        settings={"database_url": database_url},
    ) as process:
        yield process


def signed(signer: PrincipalSigner, audience: str = "catalog") -> dict[str, str]:
    return {HEADER: signer.sign(TEST_PRINCIPAL, audience=audience)}


def gateway_signer(clock: Callable[[], float] = time.time) -> PrincipalSigner:
    """Signs with the key the catalog trusts, as the gateway does (at ``clock``'s time)."""
    return PrincipalSigner(load_private_key(gateway_test_key()), issuer=GATEWAY_ISSUER, clock=clock)


async def test_a_principal_the_gateway_signed_for_the_catalog_is_let_through(
    catalog: ServiceProcess,
) -> None:
    async with catalog.client() as client:
        response = await client.get("/api/v1/test-cases")

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", PATHS)
async def test_a_request_without_a_principal_is_401(catalog: ServiceProcess, path: str) -> None:
    async with catalog.client(principal=None) as client:
        response = await client.get(path)

    assert_problem(response, 401, "unauthenticated")


async def test_a_write_without_a_principal_is_401_and_writes_nothing(
    catalog: ServiceProcess, unique: Callable[[str], str]
) -> None:
    name = unique("unsigned")
    async with catalog.client(principal=None) as anonymous:
        refused = await anonymous.post("/api/v1/tags", json={"name": name})
    async with catalog.client() as client:
        listed = await client.get("/api/v1/tags", params={"q": name})

    assert_problem(refused, 401, "unauthenticated")
    assert listed.json()["items"] == []


@pytest.mark.parametrize("path", PATHS)
async def test_a_principal_signed_by_another_key_is_401(catalog: ServiceProcess, path: str) -> None:
    forger = PrincipalSigner(load_private_key(generate_private_key()), issuer=GATEWAY_ISSUER)
    async with catalog.client(principal=None) as client:
        response = await client.get(path, headers=signed(forger))

    assert_problem(response, 401, "unauthenticated")


async def test_an_expired_principal_is_401(catalog: ServiceProcess) -> None:
    a_minute_ago = gateway_signer(clock=lambda: time.time() - 60)
    async with catalog.client(principal=None) as client:
        response = await client.get("/api/v1/test-cases", headers=signed(a_minute_ago))

    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("audience", ["results", "executor"])
async def test_a_principal_for_another_service_is_401(
    catalog: ServiceProcess, audience: str
) -> None:
    async with catalog.client(principal=None) as client:
        response = await client.get(
            "/api/v1/test-cases", headers=signed(gateway_signer(), audience=audience)
        )

    assert_problem(response, 401, "unauthenticated")


async def test_a_garbled_principal_is_401(catalog: ServiceProcess) -> None:
    async with catalog.client(principal=None) as client:
        response = await client.get("/api/v1/test-cases", headers={HEADER: "not.a.jwt"})

    assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_the_probes_answer_without_a_principal(catalog: ServiceProcess, path: str) -> None:
    async with catalog.client(principal=None) as client:
        response = await client.get(path)

    assert response.status_code == 200, response.text


async def test_the_catalog_refuses_to_start_without_the_gateways_public_key(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TESTOPS_CATALOG_")}
    env["TESTOPS_CATALOG_DATA_DIR"] = str(tmp_path)

    ran = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "testops_catalog"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "TESTOPS_CATALOG_PRINCIPAL_PUBLIC_KEY" in ran.stderr
    assert str(tmp_path / "keys" / "principal.pub") in ran.stderr
    assert "Traceback" not in ran.stderr
