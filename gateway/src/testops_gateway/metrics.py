"""Prometheus metrics of the proxied requests, labelled by service and route template.

Labels come from a closed set: the route is the OpenAPI path template the request matched
(``/api/v1/test-cases/{test_case_id}``), never the raw path, so ids cannot blow up the series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"
"""The route label of a path no known route template matches."""
_SCOPED_TEMPLATE = re.compile(r"^/api/v1/projects/\{[^/}]+\}/")

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The gateway's counters and histograms, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "testops_gateway_requests",
            "Requests forwarded to a service, by outcome.",
            ["upstream", "route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "testops_gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its response, through the gateway.",
            ["upstream", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "testops_gateway_upstream_errors",
            "Requests a service did not answer: `unavailable` (502) or `timeout` (504).",
            ["upstream", "kind"],
            registry=self.registry,
        )
        self.client_aborts = Counter(
            "testops_gateway_client_aborts",
            "Requests whose caller hung up before its body had been passed on (status 499 in "
            "`testops_gateway_requests_total` and the access log); never upstream errors.",
            ["upstream"],
            registry=self.registry,
        )
        self.refused = Counter(
            "testops_gateway_refused",
            "Requests the gateway answered itself instead of forwarding, by problem code: "
            "`unauthenticated`, `forbidden`, `rate_limited`.",
            ["code"],
            registry=self.registry,
        )
        self.authentication = Histogram(
            "testops_gateway_authentication_seconds",
            "Time taken to find who a request comes from and its role in the project, by how "
            "it came: `token`, `session`, `configured_token`, `local_admin`, `refused`.",
            ["via"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._templates: list[tuple[re.Pattern[str], str]] = []
        self._operations: dict[tuple[str, str], str] = {}

    def use_templates(self, paths: Iterable[str]) -> None:
        """Match request paths against these OpenAPI path templates from now on (given the
        document's ``paths`` object, also know each operation's id)."""
        if isinstance(paths, Mapping):
            self._operations = {
                (path, method.upper()): operation["operationId"]
                for path, operations in paths.items()
                if isinstance(operations, Mapping)
                for method, operation in operations.items()
                if isinstance(operation, Mapping) and isinstance(operation.get("operationId"), str)
            }
        templates = []
        for path in paths:
            # A service route answers in both forms (unscoped and under /projects/{key}/): each
            # is counted under the document's template.
            unscoped = _SCOPED_TEMPLATE.sub("/api/v1/", path, count=1)
            for form in (unscoped, "/api/v1/projects/{project_key}/" + unscoped[len("/api/v1/") :]):
                pattern = "/".join(
                    "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
                    for part in form.split("/")
                )
                templates.append((re.compile(f"^{pattern}$"), path))
        # Literal segments win over parameters: /executions/current before /executions/{id}.
        templates.sort(key=lambda item: item[1].count("{"))
        self._templates = templates

    def route_of(self, path: str) -> str:
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        return UNMATCHED

    def operation_of(self, route: str, method: str) -> str | None:
        """The id of the operation ``method`` on the route template ``route``, when known."""
        return self._operations.get((route, method))

    def observe(
        self, *, upstream: str, route: str, method: str, status: int, seconds: float
    ) -> None:
        self.requests.labels(upstream, route, method, str(status)).inc()
        self.latency.labels(upstream, route).observe(seconds)

    def upstream_error(self, upstream: str, kind: str) -> None:
        self.errors.labels(upstream, kind).inc()

    def client_aborted(self, upstream: str) -> None:
        self.client_aborts.labels(upstream).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
