"""The whole of TestOps as it is deployed: catalog, results and executor as child processes on
free loopback ports, each on a new database, and the gateway in front of them, knowing the
tokens of :data:`TOKEN_SCOPES`; and what a CI pipeline does with it.

Tests reach the deployment only through the gateway (``Deployment.client(token)``); the
services' own URLs are there to compare the gateway's answers with theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testops_gateway.auth import new_token, token_line
from testops_kit.testing import free_port, service_process, wait_for

API = "/api/v1"
JSON = dict[str, Any]
SERVICES = ("catalog", "results", "executor")
FINISHED = ("completed", "failed", "cancelled")

TOKEN_SCOPES: dict[str, list[str]] = {"ci": ["read", "write", "execute"], "reader": ["read"]}
"""The gateway's tokens, by name: the pipeline's, and one that may only read."""

RUN_WITHIN_S = 150.0
"""One execution of :data:`SHOP_FILES`; the first of a session fills the uv cache from the
package index."""

SHOP_FILES: dict[str, str] = {
    "tests/test_shop.py": """\
import time

import pytest


def test_login_works():
    assert "user".upper() == "USER"


def test_checkout_takes_a_while():
    print("checking out", flush=True)
    time.sleep(2)


def test_cart_total_is_right():
    assert 2 + 2 == 5


@pytest.mark.skip(reason="refunds are not built yet")
def test_refunds_work():
    pass
""",
}
"""The repository the pipeline executes: a pass, a slow pass (so its log is watched growing),
a failure and a skip."""

SHOP_TESTS = frozenset(
    {
        "test_login_works",
        "test_checkout_takes_a_while",
        "test_cart_total_is_right",
        "test_refunds_work",
    }
)
SHOP_STATS: dict[str, int] = {
    "total": 4,
    "passed": 2,
    "failed": 1,
    "broken": 0,
    "skipped": 1,
    "unknown": 0,
    "retries": 0,
    "retry_attempts": 0,
}
"""What a run of :data:`SHOP_FILES` counts."""

PYTEST_STARTED = b"test session starts"
"""pytest's first line: output of the testing phase, not of the clone or the sync."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True, slots=True)
class Deployment:
    url: str
    """The gateway's."""
    services: Mapping[str, str]
    """Service name → its own URL (the first executor's, when there are several)."""
    tokens: Mapping[str, str]
    """Token name (of :data:`TOKEN_SCOPES`) → the token."""
    storage: str
    """``file`` or ``s3``: where catalog and results keep their objects."""
    executors: int = 1
    """Executor processes sharing the queue."""

    def client(self, token_name: str | None) -> httpx.AsyncClient:
        """A client of the gateway's HTTP port sending the token called ``token_name`` (none
        when None)."""
        headers = bearer(self.tokens[token_name]) if token_name else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, trust_env=False, timeout=60)


@asynccontextmanager
async def deploy(
    *,
    database_url: Callable[[str], Awaitable[str]],
    storage_settings: Callable[[str], Mapping[str, Any]],
    storage: str,
    folder: Callable[[str], Path],
    uv_cache_dir: Path,
    executor_settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Deployment]:
    """Start the three services (concurrently), then the gateway in front of them; each is
    ready (``/readyz`` answers 200) when this yields, and stopped when it exits.

    ``database_url(name)`` makes a new database, ``storage_settings(name)`` a new storage
    namespace, ``folder(name)`` a new data folder; ``executor_settings`` replace the executor's
    own (by setting name, without its prefix).
    """
    tokens = {name: new_token() for name in TOKEN_SCOPES}
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    settings: dict[str, dict[str, str]] = {
        name: {"database_url": await database_url(f"e2e_{name}"), "log_level": "info"}
        for name in SERVICES
    }
    for name in ("catalog", "results"):
        settings[name].update(
            {key: str(value) for key, value in storage_settings(f"e2e-{name}").items()}
        )
    settings["executor"].update(
        {
            "results_url": urls["results"],
            "allowed_repo_schemes": "https,file",
            "uv_cache_dir": str(uv_cache_dir),
            "poll_interval_s": "0.2",
            "kill_grace_s": "2",
            **(executor_settings or {}),
        }
    )
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(
                stack.enter_async_context(
                    service_process(
                        f"testops_{name}",
                        prefix=f"TESTOPS_{name.upper()}_",
                        folder=folder(f"e2e-{name}"),
                        settings=settings[name],
                        port=ports[name],
                    )
                )
                for name in SERVICES
            )
        )
        lines = [token_line(name, TOKEN_SCOPES[name], tokens[name]) for name in TOKEN_SCOPES]
        gateway = await stack.enter_async_context(
            service_process(
                "testops_gateway",
                prefix="TESTOPS_GATEWAY_",
                folder=folder("e2e-gateway"),
                settings={
                    **{f"{name}_url": url for name, url in urls.items()},
                    "database_url": await database_url("e2e_gateway"),
                    "tokens": ";".join(lines),
                    "rate_limit_per_s": "0",
                    "log_level": "info",
                },
            )
        )
        yield Deployment(
            url=gateway.url,
            services={name: service.url for name, service in zip(SERVICES, started, strict=True)},
            tokens=tokens,
            storage=storage,
        )


# --- what the pipeline does with an execution


@dataclass(frozen=True, slots=True)
class Arrival:
    """Bytes of the followed log, and when (loop time) they reached the client."""

    at: float
    data: bytes


@dataclass(frozen=True, slots=True)
class Poll:
    """An execution's status, and when (loop time) its answer reached the client."""

    at: float
    status: str


@dataclass(frozen=True, slots=True)
class FollowedExecution:
    """An execution queued through the gateway, its log followed while its status was polled."""

    accepted: httpx.Response
    """The answer to ``POST /executions``."""
    arrivals: list[Arrival]
    polls: list[Poll]
    finished: JSON
    """The execution as it ended."""

    def followed_log(self) -> bytes:
        return b"".join(arrival.data for arrival in self.arrivals)

    def first_arrival_of(self, text: bytes) -> float:
        """When the followed log first held ``text`` (which may span chunks)."""
        received = b""
        for arrival in self.arrivals:
            received += arrival.data
            if text in received:
                return arrival.at
        raise AssertionError(f"{text!r} never came: {received.decode(errors='replace')}")


async def follow_execution(client: httpx.AsyncClient, body: JSON) -> FollowedExecution:
    """Queue ``body``, then at once follow its log (``?follow=true``) and poll its status
    until it has ended and the log stream has closed."""
    loop = asyncio.get_running_loop()
    accepted = await client.post(f"{API}/executions", json=body)
    assert accepted.status_code == 202, accepted.text
    log_url = f"{API}/executions/{accepted.json()['id']}/log"
    execution_url = f"{API}/executions/{accepted.json()['id']}"
    arrivals: list[Arrival] = []
    polls: list[Poll] = []

    async def read_log() -> None:
        async with client.stream(
            "GET", log_url, params={"follow": "true"}, timeout=httpx.Timeout(30, read=None)
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/plain")
            async for chunk in response.aiter_bytes():
                arrivals.append(Arrival(at=loop.time(), data=chunk))

    async def ended() -> JSON | None:
        response = await client.get(execution_url)
        assert response.status_code == 200, response.text
        execution: JSON = response.json()
        polls.append(Poll(at=loop.time(), status=execution["status"]))
        return execution if execution["status"] in FINISHED else None

    # Whichever fails first stops the other; a stream that never closes fails too.
    async with asyncio.timeout(RUN_WITHIN_S + 30), asyncio.TaskGroup() as group:
        group.create_task(read_log())
        polling = group.create_task(wait_for(ended, within=RUN_WITHIN_S, interval=0.1))
    return FollowedExecution(
        accepted=accepted, arrivals=arrivals, polls=polls, finished=polling.result()
    )
