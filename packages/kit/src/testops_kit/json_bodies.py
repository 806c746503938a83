"""Pure-ASGI middleware that checks a JSON request body before any route parses it.

Every field of every request body has a type with limits, but a body is parsed whole before
any field is looked at: megabytes of JSON, or arrays nested ten thousand deep (Python's ``json``
module runs out of stack on those), would cost the process before validation could refuse
them. :class:`JsonBodyLimits` reads a body sent as JSON (``application/json`` or
``application/*+json``) and, when it is not acceptable, answers without calling the app:

- 413 ``payload_too_large``: larger than ``max_bytes`` (told by ``Content-Length`` before
  anything is read, or found as the body arrives);
- 422 ``validation_error`` pointing at ``body``: not UTF-8, or not JSON (what FastAPI answers
  for malformed JSON, so every malformed body gets the same answer);
- 422 ``body_too_deep``: arrays and objects nested deeper than ``max_depth``.

Nothing here recurses in Python: orjson parses the body (refusing nesting past 1,024 levels on
its own), and the depth is counted on the bytes with the strings taken out. A body that passes
goes on to the app as it came::

    app.add_middleware(JsonBodyLimits)  # inside RequestContextMiddleware: refusals are logged
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from testops_kit.errors import ErrorItem, problem_response, problem_responses

MAX_JSON_BODY_BYTES = 4 * 1024 * 1024
"""The largest JSON request body a service reads (4 MiB)."""

MAX_JSON_DEPTH = 32
"""How deep arrays and objects may nest in a JSON request body; the deepest body any route
takes nests 4 levels (an execution's ``suite.params`` lists)."""

# A JSON string; possessive, so it never backtracks (it runs on valid JSON only).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(document: bytes) -> int:
    """How deep arrays and objects nest in the valid JSON ``document`` (0 for a scalar).

    >>> json_depth(b'{"steps": [{"action": "[[["}]}')
    3
    """
    brackets = _STRING.sub(b"", document).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))


def is_json_media_type(content_type: str) -> bool:
    """Whether a ``Content-Type`` says JSON, as FastAPI reads it: ``application/json`` or
    ``application/<anything>+json``, parameters aside."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def declare_json_body_limits(document: dict[str, Any]) -> None:
    """Add the 413 :class:`JsonBodyLimits` answers to every operation of an OpenAPI
    ``document`` that takes a JSON body (the 422s it answers are declared already)."""
    description = (
        f"Payload too large: a JSON body over {MAX_JSON_BODY_BYTES:,} bytes (`payload_too_large`)"
    )
    too_large = problem_responses(413, descriptions={413: description})[413]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if any(is_json_media_type(media_type) for media_type in content):
                responses = operation.setdefault("responses", {})
                responses.setdefault("413", copy.deepcopy(too_large))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _invalid(loc: Sequence[str | int], message: str) -> Response:
    return problem_response(
        status=422,
        code="validation_error",
        title="Request validation failed",
        detail=f"The request body is not valid: {message}.",
        errors=[ErrorItem(loc=list(loc), message=message)],
    )


class JsonBodyLimits:
    """Refuse a JSON request body that is too large, malformed or too deep; pass the rest on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = MAX_JSON_BODY_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = _header(scope, b"content-type") if scope["type"] == "http" else None
        if content_type is None or not is_json_media_type(content_type):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before its body was complete: the app sees what came, as if
                # nothing stood in between.
                await self.app(scope, _replay([*chunks], message, receive), send)
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = self._refusal(body) if body else None  # an empty body is the route's to judge
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay([body], None, receive), send)

    def _too_large(self) -> Response:
        return problem_response(
            status=413,
            code="payload_too_large",
            title="Payload too large",
            detail=f"A JSON request body may hold at most {self.max_bytes:,} bytes.",
        )

    def _refusal(self, body: bytes) -> Response | None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _invalid(["body"], f"it is not UTF-8 text (byte {exc.start} cannot be read)")
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if "depth" in exc.msg:  # orjson's own limit, far past ours
                return self._too_deep()
            return _invalid(["body", exc.pos], f"JSON decode error: {exc.msg}")
        if json_depth(body) > self.max_depth:
            return self._too_deep()
        return None

    def _too_deep(self) -> Response:
        return problem_response(
            status=422,
            code="body_too_deep",
            title="Request body too deep",
            detail=f"Arrays and objects in a request body may nest {self.max_depth} levels deep.",
            errors=[ErrorItem(loc=["body"], message=f"nests deeper than {self.max_depth} levels")],
        )


def _replay(chunks: list[bytes], last: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read so far (and ``last``, when the client left),
    then asks the server again."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": last is not None} for chunk in chunks
    ]
    if last is not None:
        messages.append(last)

    async def replayed() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replayed
