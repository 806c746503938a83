"""GET /metrics: Prometheus counts and latencies of the forwarded requests, labelled by service
and OpenAPI route template (never a raw path), and the requests a service did not answer."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.gateway.conftest import StartGateway, bearer

from testops_kit.testing import ServiceProcess, assert_problem, free_port

API = "/api/v1"
CASE_ROUTE = f"{API}/test-cases/{{test_case_id}}"
MISSING_ID = 987654321
TEMPLATE = re.compile(r"(/[a-z0-9-]+|/\{[a-z_]+\})+")
"""A route label: literal segments and `{parameters}`, no ids."""


async def scrape(gateway: httpx.AsyncClient) -> list[Sample]:
    response = await gateway.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith("testops_gateway_")
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The value of the one sample ``name`` whose labels include ``labels``; 0 when none."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, found
    return found[0].value if found else 0.0


async def test_forwarded_requests_are_counted_by_route_template_and_status(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    root = bearer(tokens["root"])
    created = await gateway.post(
        f"{API}/test-cases", json={"name": f"gw-metrics-{uuid.uuid4().hex[:8]}"}, headers=root
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    for _ in range(2):
        found = await gateway.get(f"{API}/test-cases/{case_id}", headers=root)
        assert found.status_code == 200, found.text
    missing = await gateway.get(f"{API}/test-cases/{MISSING_ID}", headers=root)
    assert missing.status_code == 404, missing.text
    listed = await gateway.get(f"{API}/test-cases", headers=root)
    assert listed.status_code == 200, listed.text

    samples = await scrape(gateway)

    def requests(route: str, method: str, status: str) -> float:
        return value(
            samples,
            "testops_gateway_requests_total",
            upstream="catalog",
            route=route,
            method=method,
            status=status,
        )

    assert requests(CASE_ROUTE, "GET", "200") == 2
    assert requests(CASE_ROUTE, "GET", "404") == 1
    assert requests(f"{API}/test-cases", "GET", "200") == 1
    assert requests(f"{API}/test-cases", "POST", "201") == 1
    route_segments = {seg for s in samples for seg in s.labels.get("route", "").split("/")}
    assert str(case_id) not in route_segments


async def test_latency_is_a_histogram_per_upstream_and_route(
    gateway: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    for _ in range(3):
        response = await gateway.get(
            f"{API}/test-cases/{MISSING_ID}", headers=bearer(tokens["root"])
        )
        assert response.status_code == 404, response.text

    samples = await scrape(gateway)
    name = "testops_gateway_request_duration_seconds"
    buckets = [
        s
        for s in samples
        if s.name == f"{name}_bucket"
        and s.labels["upstream"] == "catalog"
        and s.labels["route"] == CASE_ROUTE
    ]

    assert len(buckets) > 1
    counts = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert counts == sorted(counts)
    assert value(samples, f"{name}_bucket", route=CASE_ROUTE, le="+Inf") == 3
    assert value(samples, f"{name}_count", upstream="catalog", route=CASE_ROUTE) == 3
    assert value(samples, f"{name}_sum", upstream="catalog", route=CASE_ROUTE) > 0


async def test_no_label_holds_a_raw_id(gateway: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    root = bearer(tokens["root"])
    execution_id = str(uuid.uuid4())
    paths = [
        f"{API}/test-cases/{MISSING_ID}",
        f"{API}/suites/{MISSING_ID}/tree",
        f"{API}/executions/{execution_id}",
        f"{API}/results/{MISSING_ID}",
        f"{API}/tests/0123456789abcdef/history",
    ]
    for path in paths:
        await gateway.get(path, headers=root)

    samples = await scrape(gateway)

    routes = {s.labels["route"] for s in samples if "route" in s.labels}
    assert f"{API}/executions/{{execution_id}}" in routes
    for route in routes:
        assert route == "unmatched" or TEMPLATE.fullmatch(route), route
    for sample in samples:
        for label in sample.labels.values():
            assert str(MISSING_ID) not in label, sample
            assert execution_id not in label, sample
            assert "0123456789abcdef" not in label, sample


async def test_requests_to_a_service_that_is_down_are_counted_as_unavailable(
    start_gateway: StartGateway, tokens: dict[str, str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async with start_gateway(catalog_url=dead) as gateway:
        for _ in range(2):
            response = await gateway.get(f"{API}/test-cases", headers=bearer(tokens["root"]))
            assert_problem(response, 502, "upstream_unavailable")
        samples = await scrape(gateway)

    assert (
        value(
            samples,
            "testops_gateway_upstream_errors_total",
            upstream="catalog",
            kind="unavailable",
        )
        == 2
    )
    assert value(samples, "testops_gateway_upstream_errors_total", upstream="results") == 0
    assert value(samples, "testops_gateway_requests_total", upstream="catalog", status="502") == 2


async def test_a_service_that_comes_up_after_the_gateway_gets_its_routes_labelled(
    start_gateway: StartGateway,
    tokens: dict[str, str],
    database_url_factory: Callable[[str], str],
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TESTOPS_CATALOG_")}
    env.update(
        {
            "TESTOPS_CATALOG_HOST": "127.0.0.1",
            "TESTOPS_CATALOG_PORT": str(port),
            "TESTOPS_CATALOG_DATA_DIR": str(tmp_path),
            "TESTOPS_CATALOG_DATABASE_URL": await asyncio.to_thread(
                database_url_factory, "gw_late_catalog"
            ),
        }
    )
    late_catalog = ServiceProcess("testops_catalog", env, tmp_path / "catalog.log", port)

    async with start_gateway(catalog_url=late_catalog.url) as gateway:
        await late_catalog.start()
        try:
            response = await gateway.get(
                f"{API}/test-cases/{MISSING_ID}", headers=bearer(tokens["root"])
            )
            assert_problem(response, 404, "test_case_not_found")
            samples = await scrape(gateway)
        finally:
            await late_catalog.stop()

    assert value(samples, "testops_gateway_requests_total", route=CASE_ROUTE, status="404") == 1


async def test_requests_the_gateway_refuses_are_counted_by_code(
    start_gateway: StartGateway, tokens: dict[str, str]
) -> None:
    async with start_gateway(rate_limit_per_s=0.001, rate_limit_burst=1) as gateway:
        assert (await gateway.get(f"{API}/tags")).status_code == 401
        reader = bearer(tokens["reader"])
        assert (await gateway.post(f"{API}/tags", json={}, headers=reader)).status_code == 403
        assert (await gateway.get(f"{API}/tags", headers=reader)).status_code == 200
        assert (await gateway.get(f"{API}/tags", headers=reader)).status_code == 429
        samples = await scrape(gateway)

    for code in ("unauthenticated", "forbidden", "rate_limited"):
        assert value(samples, "testops_gateway_refused_total", code=code) == 1, code
