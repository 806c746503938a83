"""Forwarding a request to the service that owns its path, streaming both ways.

The first path segment after ``/api/v1/`` names the service (api.md's routing table). The
request body is passed on as it arrives and the response body as the service sends it, so
neither is ever whole in the gateway's memory; hop-by-hop headers stay on their hop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.types import Message, Receive, Scope, Send

from testops_gateway.metrics import UNMATCHED, Metrics
from testops_gateway.settings import GatewaySettings
from testops_gateway.transport import AiohttpTransport
from testops_kit.errors import problem_response
from testops_kit.logging import get_logger
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.principal import Principal, PrincipalSigner
from testops_kit.requests import CLIENT_CLOSED_REQUEST, REQUEST_ID_HEADER

API_PREFIX = "/api/v1/"

ROUTES = {
    "test-cases": "catalog",
    "suites": "catalog",
    "tags": "catalog",
    "runs": "results",
    "results": "results",
    "attachments": "results",
    "tests": "results",
    "analytics": "results",
    "executions": "executor",
}
"""First segment after ``/api/v1/`` → the service that owns it."""

# RFC 9110 §7.6.1; ``host`` is the upstream's own, and the caller's token stays here.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {
    b"host",
    b"authorization",
    b"cookie",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-request-id",
    PRINCIPAL_HEADER.lower().encode(),  # only the gateway's own may reach a service
}
_NOT_RETURNED = _HOP_BY_HOP | {b"set-cookie", b"date", b"server"}  # uvicorn sets its own

log = get_logger(__name__)


_PROJECTS = API_PREFIX + "projects/"


def project_of(path: str) -> str | None:
    """The project key a scoped path names (``/api/v1/projects/SHOP/runs`` → ``SHOP``)."""
    if not path.startswith(_PROJECTS):
        return None
    return path[len(_PROJECTS) :].split("/", 1)[0] or None


def upstream_of(path: str) -> str | None:
    """The service that owns ``path``, or None when the gateway answers it itself. A service's
    routes are also under ``/api/v1/projects/{key}/``; ``/api/v1/projects`` itself and its
    members are the gateway's."""
    if not path.startswith(API_PREFIX):
        return None
    rest = path[len(API_PREFIX) :]
    if rest.startswith("projects/"):
        parts = rest.split("/", 3)
        return ROUTES.get(parts[2]) if len(parts) > 2 and parts[1] else None
    return ROUTES.get(rest.split("/", 1)[0])


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a ``Connection`` header declares hop-by-hop."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(part.strip().lower() for part in value.split(b","))
    return names


class Upstream:
    """One service: its pooled client (no cookie jar, no redirects) and timeouts."""

    def __init__(self, name: str, settings: GatewaySettings) -> None:
        self.name = name
        self.base_url = settings.upstream_url(name)
        self.base = httpx.URL(self.base_url)
        self.base_path = self.base.raw_path.rstrip(b"/")
        read = settings.upstream_timeout_s(name)
        self.timeout = httpx.Timeout(
            connect=settings.connect_timeout_s, read=read, write=read, pool=read
        )
        # Forwarded requests go straight to the client's connection pool: the client's own
        # layers (auth flows, redirects, cookies, hooks) have nothing to do for a proxy.
        self.transport = AiohttpTransport(max_connections=settings.upstream_max_connections)
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout,
            transport=self.transport,
            # A jar that takes no cookie: one caller's cookie must never reach another.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class Proxy:
    """Forwards one request to ``upstream`` and streams the answer back."""

    def __init__(
        self,
        upstreams: dict[str, Upstream],
        metrics: Metrics,
        *,
        signer: PrincipalSigner,
        learn_routes: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Each request goes on with the principal in its scope's state, signed by ``signer``.
        ``learn_routes`` is awaited when a path matches no known route template: a service
        that was down when the templates were read may have come up since."""
        self.upstreams = upstreams
        self.signer = signer
        self.metrics = metrics
        self.learn_routes = learn_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        upstream = self.upstreams[name]
        started = time.perf_counter()
        route = self.metrics.route_of(scope["path"])
        if route == UNMATCHED and self.learn_routes is not None:
            await self.learn_routes()
            route = self.metrics.route_of(scope["path"])
        status = 502
        try:
            status = await self._forward(upstream, scope, receive, send)
        finally:
            self.metrics.observe(
                upstream=name,
                route=route,
                method=scope["method"],
                status=status,
                seconds=time.perf_counter() - started,
            )

    async def _forward(self, upstream: Upstream, scope: Scope, receive: Receive, send: Send) -> int:
        body = _CallerBody(receive) if _has_body(scope) else None
        request = self._request(upstream, scope, body)
        try:
            response = await self._send(upstream, request, body)
        except _ClientGone:
            # The caller's doing, not the service's: counted apart, so that an alert on
            # upstream errors means the services. No one is left to answer.
            self.metrics.client_aborted(upstream.name)
            return CLIENT_CLOSED_REQUEST
        except httpx.TimeoutException:
            self.metrics.upstream_error(upstream.name, "timeout")
            log.warning("upstream_timeout", upstream=upstream.name, path=scope["path"])
            await problem_response(
                status=504,
                code="upstream_timeout",
                title="Upstream timeout",
                detail=f"The {upstream.name} service did not answer in time.",
            )(scope, receive, send)
            return 504
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            self.metrics.upstream_error(upstream.name, "unavailable")
            log.warning(
                "upstream_unavailable", upstream=upstream.name, path=scope["path"], error=str(exc)
            )
            await problem_response(
                status=502,
                code="upstream_unavailable",
                title="Upstream unavailable",
                detail=f"The {upstream.name} service cannot be reached; try again shortly.",
                headers={"Retry-After": "1"},
            )(scope, receive, send)
            return 502
        try:
            await self._respond(response, scope, receive, send)
        finally:
            await response.aclose()
        return response.status_code

    @staticmethod
    async def _send(
        upstream: Upstream, request: httpx.Request, body: _CallerBody | None
    ) -> httpx.Response:
        try:
            return await upstream.transport.handle_async_request(request)
        except Exception:
            # However the transport reports it (aiohttp: a failed write to the service), a body
            # that stopped because the caller hung up is the caller's going away.
            if body is not None and body.caller_gone:
                raise _ClientGone from None
            raise

    def _request(self, upstream: Upstream, scope: Scope, body: _CallerBody | None) -> httpx.Request:
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        dropped = _NOT_FORWARDED | _connection_tokens(raw)
        headers = [(k, v) for k, v in raw if k.lower() not in dropped]
        forwarded_for = [v for k, v in raw if k.lower() == b"x-forwarded-for"]
        client = scope.get("client")
        if client:
            forwarded_for.append(client[0].encode())
        if forwarded_for:
            headers.append((b"x-forwarded-for", b", ".join(forwarded_for)))
        headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
        host = next((v for k, v in raw if k.lower() == b"host"), None)
        if host:
            headers.append((b"x-forwarded-host", host))
        state = scope.get("state", {})
        request_id = state.get("request_id")
        if request_id:
            headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
        principal: Principal = state["principal"]
        if request_id and principal.request_id != request_id:
            principal = replace(principal, request_id=request_id)
        signed = self.signer.sign(principal, audience=upstream.name)
        headers.append((PRINCIPAL_HEADER.lower().encode(), signed.encode()))

        # The path as the caller encoded it: decoded, `%3F` or `%2F` would change its meaning.
        path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        url = upstream.base.copy_with(
            raw_path=upstream.base_path + path + (b"?" + query if query else b"")
        )
        timeout = upstream.timeout
        if scope["path"].endswith("/log") and b"follow=true" in scope.get("query_string", b""):
            # A followed log is quiet while the suite is: it ends with the execution.
            timeout = httpx.Timeout(upstream.timeout.connect, read=None, write=None, pool=None)
        return httpx.Request(
            scope["method"],
            url,
            headers=headers,
            content=body,
            extensions={"timeout": timeout.as_dict()},
        )

    async def _respond(
        self, response: httpx.Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raw = response.headers.raw
        dropped = _NOT_RETURNED | _connection_tokens(raw)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(k, v) for k, v in raw if k.lower() not in dropped],
            }
        )
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if "content-length" in response.headers:
            await _copy(response, send)
            return
        # A stream of unknown length (a followed log) stops when the caller hangs up, instead
        # of running on until the service ends it.
        copy = asyncio.ensure_future(_copy(response, send))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((copy, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            copy.cancel()
            gone.cancel()
            copied, _ = await asyncio.gather(copy, gone, return_exceptions=True)
        if isinstance(copied, Exception):
            raise copied  # the service failed mid-stream: the response is cut, not completed


async def _copy(response: httpx.Response, send: Send) -> None:
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class _ClientGone(Exception):
    """The caller disconnected while its body was being sent on."""


def _has_body(scope: Scope) -> bool:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    return any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in headers)


class _CallerBody:
    """The caller's body, passed on as it arrives; ``caller_gone`` once the caller hung up
    before its end."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.caller_gone = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                self.caller_gone = True
                raise _ClientGone
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return


async def _disconnected(receive: Receive) -> None:
    """Returns when the caller disconnects (the request body has been read by then)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
