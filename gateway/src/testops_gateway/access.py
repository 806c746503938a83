"""Who may call which route, and how often: bearer tokens, scopes and per-caller rate limits.

Only the routes the gateway forwards are guarded; its own (health, metrics, the OpenAPI
document and the docs pages) hold nothing secret and are open.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from testops_gateway.auth import Token, TokenStore, required_scope
from testops_gateway.proxy import Proxy, project_of, upstream_of
from testops_kit.errors import problem_response
from testops_kit.principal import Principal
from testops_kit.projects import DEFAULT_PROJECT

_IDLE_BUCKETS_KEPT = 10_000
LOCAL_ADMIN = Principal(
    subject="local-admin",
    name="local-admin",
    project=DEFAULT_PROJECT,
    role="admin",
    scopes=frozenset({"admin"}),
)
"""Who an anonymous caller is while auth is disabled (loopback only)."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per caller: ``burst`` requests at once, then ``per_s`` a second."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def wait_s(self, caller: str) -> float:
        """0 when ``caller`` may go on now (and the request is counted), else the seconds
        until it may."""
        if self.per_s <= 0:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= _IDLE_BUCKETS_KEPT:
                self._forget_full(now)
            bucket = self._buckets[caller] = _Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_s)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_s

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: forgetting it changes nothing.
        full_after = self.burst / self.per_s
        self._buckets = {
            caller: bucket
            for caller, bucket in self._buckets.items()
            if now - bucket.updated < full_after
        }


class AccessControl:
    """Pure-ASGI middleware: forwarded routes need a token with the right scope and room in
    the caller's rate limit; everything else goes to the gateway's own routes (``app``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        proxy: Proxy,
        tokens: TokenStore,
        auth_disabled: bool,
        limiter: RateLimiter,
    ) -> None:
        self.app = app
        self.proxy = proxy
        self.tokens = tokens
        self.auth_disabled = auth_disabled
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upstream = upstream_of(scope["path"]) if scope["type"] == "http" else None
        if upstream is None:
            await self.app(scope, receive, send)
            return
        if self.auth_disabled:
            client = scope.get("client")
            caller = f"address:{client[0] if client else 'unknown'}"
            principal = LOCAL_ADMIN
        else:
            token = await self._authorize(scope, receive, send)
            if token is None:
                return
            caller = f"token:{token.name}"
            principal = Principal(
                subject=caller,
                name=token.name,
                project=DEFAULT_PROJECT,
                role="admin",
                scopes=token.scopes,
            )
            structlog.contextvars.bind_contextvars(caller=token.name)
        named = project_of(scope["path"])
        if named is not None and named != principal.project:
            principal = replace(principal, project=named)
        scope.setdefault("state", {})["principal"] = principal
        wait_s = self.limiter.wait_s(caller)
        if wait_s > 0:
            self.proxy.metrics.refused.labels("rate_limited").inc()
            retry_after = max(1, math.ceil(wait_s))
            await problem_response(
                status=429,
                code="rate_limited",
                title="Too many requests",
                detail=f"Too many requests; try again in {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )(scope, receive, send)
            return
        await self.proxy(scope, receive, send, upstream)

    async def _authorize(self, scope: Scope, receive: Receive, send: Send) -> Token | None:
        """The token when it may make this request; otherwise the 401/403 is sent."""
        presented = _bearer(scope)
        token = self.tokens.find(presented) if presented else None
        if token is None:
            challenge = 'Bearer realm="testops"'
            if presented:
                challenge += ', error="invalid_token"'
            self.proxy.metrics.refused.labels("unauthenticated").inc()
            await problem_response(
                status=401,
                code="unauthenticated",
                title="Unauthenticated",
                detail="This route needs `Authorization: Bearer <token>`"
                + (" and the token given is not known." if presented else "."),
                headers={"WWW-Authenticate": challenge},
            )(scope, receive, send)
            return None
        scope_needed = required_scope(scope["method"], scope["path"])
        if not token.allows(scope_needed):
            self.proxy.metrics.refused.labels("forbidden").inc()
            await problem_response(
                status=403,
                code="forbidden",
                title="Forbidden",
                detail=f"The token {token.name!r} lacks the scope {scope_needed!r} that "
                f"{scope['method']} {scope['path']} needs.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="testops", error="insufficient_scope", '
                    f'scope="{scope_needed}"'
                },
            )(scope, receive, send)
            return None
        return token


def _bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None
