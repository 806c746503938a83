"""The gateway's own operational paths (`/healthz`, `/readyz`, `/metrics`) as path items."""

from __future__ import annotations

import copy

from testops_gateway.openapi.names import (
    GATEWAY_TAG,
    JSON,
)

# --------------------------------------------------------------------------- the gateway's paths


def gateway_operations() -> JSON:
    """The path items of the gateway's own endpoints (``/healthz``, ``/readyz``, ``/metrics``),
    ready to be passed as ``gateway_paths``; each call returns a new, independent dict."""
    readiness = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "description": "One entry per service behind the gateway: `ok`, or why it is "
                "not ready.",
                "additionalProperties": {"type": "string"},
            },
        },
        "required": ["status", "checks"],
    }
    return {
        "/healthz": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "The gateway process is alive",
                "description": "Answers as long as the gateway runs, whatever the services do.",
                "operationId": "gateway_healthz",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Alive.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"type": "string", "const": "ok"}},
                                    "required": ["status"],
                                },
                                "example": {"status": "ok"},
                            }
                        },
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "Every service behind the gateway is ready",
                "description": "Asks each service's own `/readyz`; 503 when any of them is not "
                "ready or does not answer, saying which and why.",
                "operationId": "gateway_readyz",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Every service is ready.",
                        "content": {
                            "application/json": {
                                "schema": readiness,
                                "example": {
                                    "status": "ready",
                                    "checks": {"catalog": "ok", "results": "ok", "executor": "ok"},
                                },
                            }
                        },
                    },
                    "503": {
                        "description": "A service is not ready or does not answer.",
                        "content": {
                            "application/json": {
                                "schema": copy.deepcopy(readiness),
                                "example": {
                                    "status": "not_ready",
                                    "checks": {
                                        "catalog": "ok",
                                        "results": "connection refused",
                                        "executor": "ok",
                                    },
                                },
                            }
                        },
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "Prometheus metrics of the gateway",
                "description": "Metrics in the Prometheus text exposition format.",
                "operationId": "gateway_metrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The metrics, in the Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
