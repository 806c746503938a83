"""Which methods a path takes: every 405 names all of them, and HEAD is answered wherever GET is.

Starlette answers 405 from the first route whose path matches, so its ``Allow`` names that
route's methods only (``GET`` for ``/test-cases/{id}``, which also takes PUT, PATCH and DELETE).
:func:`allowed_methods` collects the methods of every route the path matches; the kit's 405
handler sends them. FastAPI's routes take exactly the methods they declare, so HEAD would be
405 where GET is not; :class:`HeadAsGet` answers it as GET without the body (RFC 9110 §9.3.2)::

    app.add_middleware(HeadAsGet)  # innermost: the access log still says HEAD
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
"""The methods asked about, in the order an ``Allow`` header lists them."""


def _takes(scope: Scope, method: str) -> bool:
    """Whether a route of the app serves ``scope``'s path with ``method``.

    The router's top-level routes are asked (FastAPI keeps an included router as one route
    that matches for its own routes), with the method swapped in: a full match serves it.
    """
    router = scope.get("router") or getattr(scope.get("app"), "router", None)
    routes: Iterable[BaseRoute] = getattr(router, "routes", ())
    probe = {**scope, "method": method}
    return any(route.matches(probe)[0] is Match.FULL for route in routes)


def allowed_methods(scope: Scope) -> list[str]:
    """The methods the app serves ``scope``'s path with (HEAD wherever GET is: see
    :class:`HeadAsGet`), in a stable order; empty when no route matches the path."""
    allowed = [method for method in _METHODS if method != "HEAD" and _takes(scope, method)]
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


class HeadAsGet:
    """Pure-ASGI middleware: HEAD on a path that takes GET is answered as that GET would be, with
    its status and headers (``Content-Length`` included) and no body.

    The response is complete once its headers are sent; servers then tell the app that the
    client has gone (``http.disconnect``), so a stream (a followed log) ends there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or not _takes(scope, "GET"):
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_headers_only(message: Message) -> None:
            nonlocal answered
            if answered:
                return
            if message["type"] == "http.response.body":
                answered = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server's own scope still says HEAD (uvicorn sends no body for it either).
        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
