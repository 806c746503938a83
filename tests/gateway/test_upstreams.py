"""When a service is down, slow, or comes back: 502 and 504 problems, /readyz naming the
service, and the merged OpenAPI document following the services without a gateway restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openapi_spec_validator
import pytest
from tests.gateway.conftest import StartGateway, Upstreams, bearer

from testops_kit.testing import assert_problem, free_port, service_process, wait_for

API = "/api/v1"


@pytest.fixture
def root(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["root"])


@pytest.fixture
async def silent_upstream() -> AsyncIterator[str]:
    """A server that takes connections and requests and never answers: a hung service."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_service_that_is_down_gives_502_and_readyz_names_it(
    start_gateway: StartGateway, root: dict[str, str]
) -> None:
    async with start_gateway(catalog_url=f"http://127.0.0.1:{free_port()}") as gateway:
        response = await gateway.get(f"{API}/test-cases", headers=root)
        ready = await gateway.get("/readyz")
        others = await gateway.get(f"{API}/runs", headers=root)

    body = assert_problem(response, 502, "upstream_unavailable")
    assert "catalog" in body["detail"]
    assert response.headers["retry-after"] == "1"
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    checks = ready.json()["checks"]
    assert checks["catalog"].startswith("unreachable")
    assert checks["results"] == checks["executor"] == "ok"
    assert others.status_code == 200


async def test_a_service_that_does_not_answer_in_time_gives_504(
    start_gateway: StartGateway, root: dict[str, str], silent_upstream: str
) -> None:
    async with start_gateway(executor_url=silent_upstream, executor_timeout_s=0.5) as gateway:
        started = time.monotonic()
        response = await gateway.get(f"{API}/executions", headers=root)
        took = time.monotonic() - started

    body = assert_problem(response, 504, "upstream_timeout")
    assert "executor" in body["detail"]
    assert 0.5 <= took < 5


async def test_the_served_document_validates_and_has_every_path_of_the_services(
    gateway: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await gateway.get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = response.json()
    openapi_spec_validator.validate(document)
    expected: set[str] = set()
    for service in (upstreams.catalog, upstreams.results, upstreams.executor):
        async with service.client() as client:
            own = (await client.get(f"{API}/openapi.json")).json()
        expected |= {path for path in own["paths"] if path.startswith(API)}
    assert expected <= set(document["paths"])
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
    operation_ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert document["servers"] == [{"url": "/"}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_the_document_lists_the_public_url_as_its_server(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(public_url="https://testops.example.com/") as gateway:
        document = (await gateway.get(f"{API}/openapi.json")).json()

    assert document["servers"] == [{"url": "https://testops.example.com"}]


async def test_a_restarted_service_is_served_again_without_restarting_the_gateway(
    start_gateway: StartGateway,
    root: dict[str, str],
    tmp_path: Path,
    database_url_factory: Any,
) -> None:
    database_url = await asyncio.to_thread(database_url_factory, "gw_restart")
    async with (
        service_process(
            "testops_catalog",
            prefix="TESTOPS_CATALOG_",
            folder=tmp_path,
            settings={"database_url": database_url, "log_level": "warning"},
        ) as catalog,
        start_gateway(catalog_url=catalog.url) as gateway,
    ):
        assert (await gateway.get(f"{API}/tags", headers=root)).status_code == 200

        await catalog.stop()
        down = await gateway.get(f"{API}/tags", headers=root)
        ready_while_down = (await gateway.get("/readyz")).json()
        await catalog.start()
        up = await gateway.get(f"{API}/tags", headers=root)
        ready_again = await gateway.get("/readyz")

    assert_problem(down, 502, "upstream_unavailable")
    assert ready_while_down["checks"]["catalog"] != "ok"
    assert up.status_code == 200, up.text
    assert ready_again.status_code == 200


async def test_paths_of_a_service_that_was_down_appear_once_it_is_up(
    start_gateway: StartGateway, tmp_path: Path, database_url_factory: Any
) -> None:
    database_url = await asyncio.to_thread(database_url_factory, "gw_late")
    catalog_port = free_port()
    async with start_gateway(catalog_url=f"http://127.0.0.1:{catalog_port}") as gateway:
        without = (await gateway.get(f"{API}/openapi.json")).json()
        async with service_process(
            "testops_catalog",
            prefix="TESTOPS_CATALOG_",
            folder=tmp_path,
            settings={"database_url": database_url},
            port=catalog_port,
        ):

            async def catalog_listed() -> dict[str, Any] | None:
                document: dict[str, Any] = (await gateway.get(f"{API}/openapi.json")).json()
                return (
                    document
                    if f"{API}/projects/{{project_key}}/test-cases" in document["paths"]
                    else None
                )

            with_catalog = await wait_for(catalog_listed, within=15, interval=0.2)

    assert f"{API}/projects/{{project_key}}/test-cases" not in without["paths"]
    assert f"{API}/projects/{{project_key}}/runs" in without["paths"]
    assert "Not available now: catalog" in without["info"]["description"]
    assert "Not available now" not in with_catalog["info"]["description"]
    openapi_spec_validator.validate(with_catalog)
