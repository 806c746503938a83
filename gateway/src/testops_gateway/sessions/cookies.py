"""The session cookie and its CSRF twin (double submit, bound to the session).

``testops_session`` holds the session's secret: HttpOnly, so no script reads it. ``testops_csrf``
is readable by the page's script, which sends it back in ``X-CSRF-Token`` with every write; a
forged request from another site carries the cookies but cannot read them to set the header.
The gateway keeps the SHA-256 of both, so the header is checked against the session it was
issued with. Both are ``SameSite=Lax`` and, behind HTTPS, ``Secure``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

SESSION_COOKIE = "testops_session"
CSRF_COOKIE = "testops_csrf"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_HEADER = CSRF_HEADER.lower().encode()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest_of(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookies_of(scope: Scope) -> dict[str, str]:
    raw = [value.decode("latin-1") for key, value in scope["headers"] if key == b"cookie"]
    return cookie_parser("; ".join(raw)) if raw else {}


def is_https(scope: Scope) -> bool:
    """Whether the caller reached the gateway over HTTPS (itself, or the proxy in front of it
    says so in ``X-Forwarded-Proto``)."""
    if scope.get("scheme") == "https":
        return True
    forwarded = _header(scope, b"x-forwarded-proto")
    return forwarded is not None and forwarded.split(",")[0].strip().lower() == "https"


def csrf_matches(scope: Scope, csrf_digest: bytes | None) -> bool:
    """Whether the request's ``X-CSRF-Token`` is its ``testops_csrf`` cookie and the one its
    session was given."""
    header = _header(scope, _CSRF_HEADER)
    cookie = cookies_of(scope).get(CSRF_COOKIE)
    if not header or not cookie or csrf_digest is None:
        return False
    same = hmac.compare_digest(header.encode(), cookie.encode())
    return same and hmac.compare_digest(digest_of(header), csrf_digest)


def set_session_cookies(
    response: Response, *, secret: str, csrf: str, max_age: int, secure: bool
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, path="/", httponly=False, samesite="lax", secure=secure
    )


def clear_session_cookies(response: Response, *, secure: bool) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", httponly=http_only, samesite="lax", secure=secure)
