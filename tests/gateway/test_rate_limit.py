"""Each caller (a token, or an address when auth is off) may make `burst` requests at once,
then `per_s` a second; beyond that the gateway answers 429 with `Retry-After`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tests.gateway.conftest import StartGateway, Upstreams, bearer

import testops_gateway.access
from testops_gateway.access import RateLimiter
from testops_gateway.main import create_app
from testops_gateway.settings import GatewaySettings
from testops_kit.testing import assert_problem, gateway_principal_settings

API = "/api/v1"
PER_S = 1
BURST = 3


@pytest.fixture
async def limited(start_gateway: StartGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with start_gateway(rate_limit_per_s=PER_S, rate_limit_burst=BURST) as client:
        yield client


async def burst_of(client: httpx.AsyncClient, headers: dict[str, str]) -> list[int]:
    """The statuses of ``BURST`` quick requests."""
    statuses = []
    for _ in range(BURST):
        response = await client.get(f"{API}/tags", params={"limit": 1}, headers=headers)
        statuses.append(response.status_code)
    return statuses


def assert_rate_limited(response: httpx.Response) -> int:
    """The response is a 429 with a whole number of seconds to wait; that number."""
    assert_problem(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1
    return int(retry_after)


async def test_the_request_after_a_burst_is_429_with_retry_after(
    limited: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = bearer(tokens["reader"])

    assert await burst_of(limited, reader) == [200] * BURST
    response = await limited.get(f"{API}/tags", headers=reader)

    assert assert_rate_limited(response) == 1


async def test_a_rate_limited_token_does_not_hold_back_another(
    limited: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    assert await burst_of(limited, bearer(tokens["reader"])) == [200] * BURST
    assert_rate_limited(await limited.get(f"{API}/tags", headers=bearer(tokens["reader"])))

    response = await limited.get(f"{API}/tags", headers=bearer(tokens["writer"]))

    assert response.status_code == 200, response.text


async def test_a_rate_limited_token_passes_again_once_its_bucket_refills(
    limited: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = bearer(tokens["reader"])
    assert await burst_of(limited, reader) == [200] * BURST
    assert_rate_limited(await limited.get(f"{API}/tags", headers=reader))

    await asyncio.sleep(1.1 / PER_S)
    response = await limited.get(f"{API}/tags", headers=reader)

    assert response.status_code == 200, response.text


async def test_requests_refused_for_their_token_do_not_use_up_its_rate(
    limited: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    reader = bearer(tokens["reader"])
    for _ in range(BURST + 1):
        forbidden = await limited.post(f"{API}/tags", json={"name": "x"}, headers=reader)
        assert_problem(forbidden, 403, "forbidden")

    assert await burst_of(limited, reader) == [200] * BURST


@asynccontextmanager
async def clients_at(
    settings: GatewaySettings, addresses: Sequence[str]
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One gateway app, and a client calling it from each of ``addresses``."""
    async with LifespanManager(create_app(settings), startup_timeout=60) as manager:
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app, client=(address, 40000)),
                base_url="http://testserver",
            )
            for address in addresses
        ]
        try:
            yield clients
        finally:
            for client in clients:
                await client.aclose()


async def test_with_auth_disabled_the_limit_is_per_client_address(
    upstreams: Upstreams, gateway_database_url: str
) -> None:
    values: dict[str, Any] = {
        **upstreams.urls(),
        "database_url": gateway_database_url,
        "auth_disabled": True,
        "tokens": None,
        "rate_limit_per_s": PER_S,
        "rate_limit_burst": BURST,
        **gateway_principal_settings(),
    }
    settings = GatewaySettings(**values)

    async with clients_at(settings, ["127.0.0.1", "127.0.0.2"]) as (first, second):
        assert await burst_of(first, {}) == [200] * BURST
        limited = await first.get(f"{API}/tags")
        other_address = await second.get(f"{API}/tags")

    assert_rate_limited(limited)
    assert other_address.status_code == 200, other_address.text


async def test_the_gateways_own_routes_are_not_rate_limited(
    limited: httpx.AsyncClient,
) -> None:
    statuses = [(await limited.get("/healthz")).status_code for _ in range(BURST * 3)]

    assert statuses == [200] * (BURST * 3)


# --- RateLimiter on its own, on a clock the test moves -------------------------------------


class Clock:
    """Stands in for the ``time`` module in :mod:`testops_gateway.access`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(testops_gateway.access, "time", clock)
    return clock


def test_a_rate_of_zero_never_limits() -> None:
    limiter = RateLimiter(per_s=0, burst=1)

    assert {limiter.wait_s("token:ci") for _ in range(1000)} == {0.0}


def test_a_new_caller_may_make_a_whole_burst_at_once(clock: Clock) -> None:
    limiter = RateLimiter(per_s=2, burst=3)

    waits = [limiter.wait_s("token:ci") for _ in range(4)]

    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_the_wait_is_the_time_until_one_whole_request_has_refilled(clock: Clock) -> None:
    limiter = RateLimiter(per_s=4, burst=1)
    assert limiter.wait_s("token:ci") == 0.0

    clock.now += 0.1
    # 0.4 of a request has come back: 0.6 more takes 0.15 s.
    assert limiter.wait_s("token:ci") == pytest.approx(0.15)
    clock.now += 0.1
    # A refused request spends nothing: the wait only shrinks.
    assert limiter.wait_s("token:ci") == pytest.approx(0.05)
    clock.now += 0.05
    assert limiter.wait_s("token:ci") == 0.0
    assert limiter.wait_s("token:ci") == pytest.approx(0.25)


def test_an_idle_caller_refills_no_further_than_the_burst(clock: Clock) -> None:
    limiter = RateLimiter(per_s=10, burst=3)
    for _ in range(3):
        limiter.wait_s("token:ci")

    clock.now += 3600
    waits = [limiter.wait_s("token:ci") for _ in range(4)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)


def test_callers_have_buckets_of_their_own(clock: Clock) -> None:
    limiter = RateLimiter(per_s=1, burst=1)

    assert limiter.wait_s("token:a") == 0.0
    assert limiter.wait_s("token:a") > 0
    assert limiter.wait_s("token:b") == 0.0
    assert limiter.wait_s("address:127.0.0.1") == 0.0


def test_forgetting_idle_callers_keeps_the_limit_of_one_still_refilling(clock: Clock) -> None:
    limiter = RateLimiter(per_s=2, burst=3)
    for number in range(9_999):
        limiter.wait_s(f"address:idle-{number}")
    clock.now += 1.0
    for _ in range(3):
        assert limiter.wait_s("token:busy") == 0.0
    clock.now += 1.0

    # The 10 001st caller makes the limiter forget the callers whose buckets are full again;
    # the busy one has had 1 s (2 requests) of its 1.5 s refill.
    assert limiter.wait_s("token:new") == 0.0
    waits = [limiter.wait_s("token:busy") for _ in range(3)]

    assert waits == [0.0, 0.0, pytest.approx(0.5)]
