"""GET /metrics: Prometheus counts and latencies of the forwarded requests, labelled by service
and OpenAPI route template (never a raw path), the requests a service did not answer, and apart
from them the requests whose caller hung up."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.gateway.conftest import TOKEN_SCOPES, StartGateway, Upstreams, bearer

from testops_gateway.auth import token_line
from testops_kit.testing import (
    ServiceProcess,
    assert_problem,
    free_port,
    hang_up_mid_body,
    service_process,
    wait_for,
)
from testops_kit.testing import test_public_key as services_public_key

API = "/api/v1"
SCOPED = f"{API}/projects/{{project_key}}"
"""Route labels are the document's templates: a project's path, whichever form was asked."""
CASE_ROUTE = f"{SCOPED}/test-cases/{{test_case_id}}"
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
    assert requests(f"{SCOPED}/test-cases", "GET", "200") == 1
    assert requests(f"{SCOPED}/test-cases", "POST", "201") == 1
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
    assert f"{SCOPED}/executions/{{execution_id}}" in routes
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
            "TESTOPS_CATALOG_PRINCIPAL_PUBLIC_KEY": services_public_key(),
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


@pytest.fixture
async def gateway_process(
    upstreams: Upstreams, tokens: dict[str, str], tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """The gateway as a real process (raw sockets reach it) in front of the session's services."""
    lines = [token_line(name, TOKEN_SCOPES[name], token) for name, token in tokens.items()]
    settings = {
        **upstreams.urls(),
        "tokens": ";".join(lines),
        "rate_limit_per_s": "0",
        "log_format": "json",
    }
    async with service_process(
        "testops_gateway", prefix="TESTOPS_GATEWAY_", folder=tmp_path, settings=settings
    ) as gateway:
        yield gateway


async def test_a_caller_hanging_up_mid_upload_is_a_client_abort_not_an_upstream_error(
    gateway_process: ServiceProcess, upstreams: Upstreams, tokens: dict[str, str]
) -> None:
    root = bearer(tokens["root"])
    request_id = f"hang-up-{uuid.uuid4().hex[:8]}"
    results_log = upstreams.results.log_path
    async with httpx.AsyncClient(base_url=gateway_process.url, timeout=30) as gateway:
        before = await scrape(gateway)
        runs_before = (await gateway.get(f"{API}/runs?deleted=include", headers=root)).json()
        results_log_from = results_log.stat().st_size
        request = gateway.build_request(
            "POST",
            f"{API}/runs",
            data={"run_name": "hung-up"},
            files={"files": ("trace-attachment.bin", os.urandom(512 * 1024))},
            headers={**root, "X-Request-ID": request_id},
        )

        await hang_up_mid_body(request, sent=len(request.read()) // 2)

        async def gateway_logged() -> list[dict[str, Any]] | None:
            mine = [e for e in gateway_process.log_events() if e.get("request_id") == request_id]
            return mine if any(e["event"] == "request" for e in mine) else None

        async def results_logged() -> str | None:
            """What results logged since, once it has logged the request's access event."""
            text = results_log.read_bytes()[results_log_from:].decode(errors="replace")
            mine = [line for line in text.splitlines() if f"request_id={request_id}" in line]
            return text if any(" status=" in line for line in mine) else None

        logged = await wait_for(gateway_logged, within=30)
        results_text = await wait_for(results_logged, within=30)
        after = await scrape(gateway)
        runs_after = (await gateway.get(f"{API}/runs?deleted=include", headers=root)).json()

    def change(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert change("testops_gateway_client_aborts_total", upstream="results") == 1
    for kind in ("unavailable", "timeout"):
        errors = "testops_gateway_upstream_errors_total"
        assert change(errors, upstream="results", kind=kind) == 0, kind
    requests = "testops_gateway_requests_total"
    assert change(requests, upstream="results", method="POST", status="499") == 1
    assert change(requests, upstream="results", method="POST", status="502") == 0
    assert [(e["event"], e["level"]) for e in logged] == [
        ("client_disconnected", "info"),
        ("request", "info"),
    ]
    assert logged[1]["status"] == 499
    gateway_text = gateway_process.log_path.read_text(errors="replace")
    for text in (gateway_text, results_text):
        assert "Traceback" not in text
        assert "upstream_unavailable" not in text
        assert "unhandled_error" not in text
    [results_access] = [
        line
        for line in results_text.splitlines()
        if f"request_id={request_id}" in line and " status=" in line
    ]
    assert "status=499" in results_access
    assert "client_disconnected" in results_text
    assert runs_after == runs_before
