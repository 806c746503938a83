"""Request bodies no service may take — JSON nested far past any bound, written as bytes since
Python's json module cannot write them — and what their refusal must look like: 422
`body_too_deep` before any work is done, with no traceback in any log."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from structlog.testing import capture_logs

from testops_kit.testing import assert_problem

DEPTHS = [300, 1000, 10_000]
"""Deep enough to have been stored before (300), and past Python's recursion limit."""


def with_nested(body: dict[str, Any], depth: int) -> bytes:
    """``body`` as JSON, with each ``"NESTED"`` in it replaced by arrays ``depth`` deep."""
    nested = b"[" * depth + b'"deep.png"' + b"]" * depth
    return httpx.Request("POST", "/", json=body).content.replace(b'"NESTED"', nested)


async def send_quietly(
    client: httpx.AsyncClient, method: str, url: str, content: bytes
) -> httpx.Response:
    """Send ``content`` as JSON and assert that nothing was logged with a traceback or as an
    error while it was answered."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        response = await client.request(
            method, url, content=content, headers={"content-type": "application/json"}
        )
    assert any(event["event"] == "request" for event in events)  # the log was captured
    assert [event for event in events if "exc_info" in event or "exception" in event] == []
    assert [event for event in events if event["log_level"] in ("error", "critical")] == []
    return response


def assert_too_deep(response: httpx.Response) -> None:
    body = assert_problem(response, 422, "body_too_deep")
    assert body["errors"][0]["loc"] == ["body"]
