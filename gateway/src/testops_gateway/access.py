"""Who may call which route, and how often: authentication, the project a request acts in,
the caller's role and scopes there, CSRF for browser sessions, per-caller rate limits, and the
audit of every write.

Forwarded routes (a service's, in either path form) and the gateway's identity routes (``/me``,
``/users``, ``/projects``, ``/audit``) need a caller; ``/auth`` takes one when there is one; the
rest (health, metrics, the OpenAPI document, the docs pages, the UI) hold nothing secret and
are open.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from testops_gateway.audit.writer import AuditEntry, AuditLog
from testops_gateway.authentication import Authenticator, Refused
from testops_gateway.callers import Caller
from testops_gateway.metrics import UNMATCHED, Metrics
from testops_gateway.proxy import Proxy, project_of, upstream_of
from testops_gateway.roles import (
    ADMIN,
    CHANGING_METHODS,
    effective_scopes,
    is_write,
    required_scope,
    unscoped,
)
from testops_gateway.sessions.cookies import CSRF_COOKIE, CSRF_HEADER, csrf_matches
from testops_kit.errors import DatabaseBusy, ServiceUnavailable, problem_response
from testops_kit.principal import Principal

_IDLE_BUCKETS_KEPT = 10_000
_API = "/api/v1/"
IDENTITY_SEGMENTS = frozenset({"me", "users", "projects", "audit"})
"""First segments after ``/api/v1/`` of the gateway's own routes that need a caller."""
SIGN_SEGMENT = "auth"
_CHALLENGE = 'Bearer realm="testops"'
_VERBS = {"POST": "create", "PUT": "replace", "PATCH": "update", "DELETE": "delete"}


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


@dataclass(frozen=True, slots=True)
class Refusal:
    """A problem the gateway answers instead of letting the request on."""

    status: int
    code: str
    title: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(
            status=self.status,
            code=self.code,
            title=self.title,
            detail=self.detail,
            headers=self.headers,
        )(scope, receive, send)


def not_found(key: str) -> Refusal:
    return Refusal(404, "project_not_found", "Project not found", f"No project {key!r}.")


def forbidden(
    caller: Caller, scope_needed: str, method: str, path: str, role: str | None = None
) -> Refusal:
    """403 naming the scope missing, and whose: the token's or the user's (and its role)."""
    who = f"The token {caller.token_name!r}" if caller.token_name else repr(caller.name)
    if role is not None and caller.is_user:
        who += f" of {caller.name!r} ({role})" if caller.token_name else f" ({role})"
    return Refusal(
        403,
        "forbidden",
        "Forbidden",
        f"{who} lacks the scope {scope_needed!r} that {method} {path} needs.",
        {"WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{scope_needed}"'},
    )


def authorize(
    caller: Caller, *, method: str, path: str, route_takes: Callable[[], bool] = lambda: True
) -> Principal | Refusal:
    """What ``caller`` may do in the project of a forwarded request: the principal to sign, or
    the refusal. Not a member (or a token restricted to another project): 404, as a project that
    does not exist; a missing scope: 403; a write in an archived project: 409 (when a route
    takes that method at all, which ``route_takes()`` says: otherwise the service's 405)."""
    project = caller.project
    assert project is not None
    if caller.token_project is not None and project.key != caller.token_project:
        return not_found(project.key)
    if not project.exists:
        return not_found(project.key)
    role = ADMIN if caller.is_admin else project.role
    if role is None:
        return not_found(project.key)
    scopes = effective_scopes(role, caller.token_scopes)
    needed = required_scope(method, path)
    if needed not in scopes:
        return forbidden(caller, needed, method, path, f"{role} in {project.key}")
    # A method no route takes is the service's 405, archived or not.
    if project.archived and method in CHANGING_METHODS and route_takes():
        return Refusal(
            409,
            "project_archived",
            "Project archived",
            f"Project {project.key} is archived: it is read-only.",
        )
    return Principal(
        subject=caller.subject,
        name=caller.name,
        project=project.key,
        role=role,
        scopes=scopes,
    )


def _unauthenticated(found: Refused) -> Refusal:
    challenge = _CHALLENGE
    if found is Refused.INVALID_TOKEN:
        challenge += ', error="invalid_token"'
        detail = (
            "This route needs `Authorization: Bearer <token>` and the token given is not known, "
            "revoked or expired."
        )
    elif found is Refused.SESSION_ENDED:
        detail = (
            "The session has ended (signed out, expired, or its user deactivated): sign in again."
        )
    else:
        detail = "This route needs `Authorization: Bearer <token>` or a signed-in session."
    return Refusal(
        401, "unauthenticated", "Unauthenticated", detail, {"WWW-Authenticate": challenge}
    )


_CSRF_FAILED = Refusal(
    403,
    "csrf_failed",
    "CSRF check failed",
    f"A write in a browser session must send the `{CSRF_COOKIE}` cookie's value in "
    f"`{CSRF_HEADER}`.",
    {"WWW-Authenticate": _CHALLENGE},
)


class AccessControl:
    """Pure-ASGI middleware; see the module's docstring. Forwarded requests go to ``proxy``
    with the principal in ``scope["state"]["principal"]``; the gateway's own routes to
    ``app`` with the caller in ``scope["state"]["caller"]``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        proxy: Proxy,
        authenticator: Authenticator,
        limiter: RateLimiter,
        audit: AuditLog,
    ) -> None:
        self.app = app
        self.proxy = proxy
        self.authenticator = authenticator
        self.limiter = limiter
        self.audit = audit

    @property
    def metrics(self) -> Metrics:
        return self.proxy.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        upstream = upstream_of(path)
        segment = path[len(_API) :].split("/", 1)[0] if path.startswith(_API) else ""
        if upstream is None and segment not in IDENTITY_SEGMENTS:
            if segment != SIGN_SEGMENT:
                await self.app(scope, receive, send)
            elif path == f"{_API}auth/login":
                await self._sign_in(scope, receive, send)
            else:
                await self._sign_out(scope, receive, send)
            return

        found = await self._authenticate(
            scope, receive, send, project=project_of(path), forwarded=upstream is not None
        )
        if found is None:
            return
        if isinstance(found, Refused):
            self.metrics.refused.labels("unauthenticated").inc()
            await _unauthenticated(found).send(scope, receive, send)
            return
        caller = found
        structlog.contextvars.bind_contextvars(caller=caller.name)
        method: str = scope["method"]
        refusal: Refusal | None = None
        principal: Principal | None = None
        if (
            caller.via == "session"
            and is_write(method)
            and not csrf_matches(scope, caller.csrf_digest)
        ):
            refusal = _CSRF_FAILED
        elif upstream is not None:
            decided = authorize(
                caller,
                method=method,
                path=path,
                route_takes=lambda: (
                    self.metrics.operation_of(self.metrics.route_of(path), method) is not None
                ),
            )
            refusal, principal = (
                (decided, None) if isinstance(decided, Refusal) else (None, decided)
            )
        elif not caller.allows(needed := required_scope(method, path)):
            refusal = forbidden(caller, needed, method, path)
        if refusal is None:
            refusal = self._rate_limited(scope, caller)
        if refusal is not None:
            self.metrics.refused.labels(refusal.code).inc()
            await refusal.send(scope, receive, send)
            return

        state = scope.setdefault("state", {})
        state["caller"] = caller
        if principal is not None:
            state["principal"] = principal
        if not is_write(method):
            if upstream is not None:
                await self.proxy(scope, receive, send, upstream)
            else:
                await self.app(scope, receive, send)
            return
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if upstream is not None:
                await self.proxy(scope, receive, send_noting_status, upstream)
            else:
                await self.app(scope, receive, send_noting_status)
        finally:
            self._audit(scope, caller, status, forwarded=upstream is not None)

    async def _authenticate(
        self, scope: Scope, receive: Receive, send: Send, *, project: str | None, forwarded: bool
    ) -> Caller | Refused | None:
        """The caller or why there is none; None when the database could not say (503 sent)."""
        started = time.perf_counter()
        via = "refused"
        try:
            found = await self.authenticator.authenticate(
                scope, project=project, resolve_project=forwarded
            )
        except ServiceUnavailable as exc:
            await self._unavailable(scope, receive, send, exc)
            return None
        if isinstance(found, Caller):
            via = found.via
        self.metrics.authentication.labels(via).observe(time.perf_counter() - started)
        return found

    async def _unavailable(
        self, scope: Scope, receive: Receive, send: Send, exc: ServiceUnavailable
    ) -> None:
        busy = isinstance(exc, DatabaseBusy)
        await Refusal(
            503,
            exc.code,
            exc.title,
            "The gateway cannot check who is calling right now; try again shortly."
            if not busy
            else exc.detail,
            {"Retry-After": "1"},
        ).send(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Sign-in needs no caller; its attempts count against their address's rate limit
        (failures are throttled apart, per username and address, by the sign-in itself)."""
        refusal = self._limit(f"address:{_address(scope) or 'unknown'}")
        if refusal is not None:
            self.metrics.refused.labels(refusal.code).inc()
            await refusal.send(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _sign_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/auth/*`` but sign-in: the caller when there is one (sign-out ends its session)."""
        try:
            found = await self.authenticator.authenticate(
                scope, project=None, resolve_project=False
            )
        except ServiceUnavailable as exc:
            await self._unavailable(scope, receive, send, exc)
            return
        if isinstance(found, Caller):
            if (
                found.via == "session"
                and is_write(scope["method"])
                and not csrf_matches(scope, found.csrf_digest)
            ):
                self.metrics.refused.labels(_CSRF_FAILED.code).inc()
                await _CSRF_FAILED.send(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = found
        await self.app(scope, receive, send)

    def _rate_limited(self, scope: Scope, caller: Caller) -> Refusal | None:
        if caller.via == "local_admin":
            return self._limit(f"address:{_address(scope) or 'unknown'}")
        return self._limit(caller.rate_key)

    def _limit(self, key: str) -> Refusal | None:
        wait_s = self.limiter.wait_s(key)
        if wait_s <= 0:
            return None
        retry_after = max(1, math.ceil(wait_s))
        return Refusal(
            429,
            "rate_limited",
            "Too many requests",
            f"Too many requests; try again in {retry_after} s.",
            {"Retry-After": str(retry_after)},
        )

    def _audit(self, scope: Scope, caller: Caller, status: int, *, forwarded: bool) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if forwarded:
            route = self.metrics.route_of(path)
            action = self.metrics.operation_of(route, method) if route != UNMATCHED else None
            principal: Principal = scope["state"]["principal"]
            project: str | None = principal.project
        else:
            matched = scope.get("route")
            template = getattr(matched, "path", None)
            # The route as its router declared it: the routers are included under /api/v1.
            route = f"{_API[:-1]}{template}" if template else UNMATCHED
            if template and template.startswith(_API):
                route = template
            action = getattr(matched, "name", None)
            project = project_of(path)
        self.audit.record(
            AuditEntry(
                action=action or _action_of(path, method),
                method=method,
                path=route,
                resource=path,
                status=status,
                actor_id=caller.user_id,
                actor_username=caller.name,
                token_id=caller.token_id,
                project=project,
                request_id=scope.get("state", {}).get("request_id"),
                ip=_address(scope),
            )
        )


def _address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _action_of(path: str, method: str) -> str:
    """An action for a path no known operation matches: its literal segments and the verb
    (``test-cases.update``)."""
    parts = [p for p in unscoped(path)[len(_API) :].split("/") if p and not p.isdigit()]
    return ".".join([*parts[:3], _VERBS.get(method, method.lower())])
