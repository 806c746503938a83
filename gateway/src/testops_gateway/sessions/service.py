"""Signing in and out.

A sign-in costs one Argon2id check whether the user exists or not, and answers the same when it
fails. Failed sign-ins are audit events, written before the answer: more than
``LOGIN_MAX_FAILURES`` for one username or from one address within ``LOGIN_WINDOW_S`` and the
next attempt is 429 until the oldest of them leaves the window, on every replica alike. No
transaction is open while the password is checked (on SQLite it would hold the write lock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from testops_gateway.audit.repository import AuditRepository
from testops_gateway.audit.writer import AuditEntry, AuditLog
from testops_gateway.models import Session
from testops_gateway.passwords import Passwords
from testops_gateway.sessions.cookies import digest_of, new_secret
from testops_gateway.sessions.errors import InvalidCredentials, SignInThrottled
from testops_gateway.sessions.repository import SessionRepository
from testops_gateway.settings import GatewaySettings
from testops_gateway.users.repository import UserRepository
from testops_kit.database import Database, utcnow

SIGN_IN_PATH = "/api/v1/auth/login"
SIGN_OUT_PATH = "/api/v1/auth/logout"


@dataclass(frozen=True, slots=True)
class Where:
    """Where a sign-in came from, for the audit log."""

    ip: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class NewSession:
    secret: str
    csrf: str
    max_age: int


async def sign_in(
    *,
    database: Database,
    username: str,
    password: str,
    where: Where,
    passwords: Passwords,
    audit: AuditLog,
    settings: GatewaySettings,
) -> NewSession:
    """A new session for ``username``; :class:`InvalidCredentials` or
    :class:`SignInThrottled` otherwise."""
    name = username.strip().lower()[:80]
    now = utcnow()
    async with database.session() as session:
        wait_s = await _throttled_for(
            AuditRepository(session), name=name, ip=where.ip, now=now, settings=settings
        )
        user = await UserRepository(session).get_by_username(name)
    if wait_s:
        audit.record(_event("sign_in_throttled", 429, name, where))
        raise SignInThrottled(
            f"Too many failed sign-ins for this user or from this address; try again in "
            f"{wait_s} s.",
            headers={"Retry-After": str(wait_s)},
        )
    usable = user is not None and user.is_active and user.kind == "human"
    stored = user.password_hash if user is not None and usable else None
    if not await passwords.verify(stored, password) or user is None:
        async with database.session(write=True) as session:
            await audit.write(session, _event("sign_in_failed", 401, name, where))
        raise InvalidCredentials("The username or the password is wrong.")
    secret, csrf = new_secret(), new_secret()
    now = utcnow()
    rehashed = await passwords.hash(password) if passwords.needs_rehash(stored or "") else None
    async with database.session(write=True) as session:
        if rehashed is not None:
            fresh = await UserRepository(session).get(user.id)
            if fresh is not None:
                fresh.password_hash = rehashed
        await SessionRepository(session).add(
            Session(
                user_id=user.id,
                digest=digest_of(secret),
                csrf_digest=digest_of(csrf),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=settings.session_max_age_s),
                ip=where.ip,
            )
        )
        await audit.write(session, _event("sign_in", 204, user.username, where, actor_id=user.id))
    return NewSession(secret=secret, csrf=csrf, max_age=settings.session_max_age_s)


async def sign_out(
    *,
    database: Database,
    session_id: int | None,
    user_id: int | None,
    username: str | None,
    where: Where,
    audit: AuditLog,
) -> None:
    """End the session (when the request came with one); the cookies go in any case."""
    if session_id is None:
        return
    async with database.session(write=True) as session:
        await SessionRepository(session).revoke(session_id, at=utcnow())
    audit.record(
        AuditEntry(
            action="sign_out",
            method="POST",
            path=SIGN_OUT_PATH,
            resource=SIGN_OUT_PATH,
            status=204,
            actor_id=user_id,
            actor_username=username,
            request_id=where.request_id,
            ip=where.ip,
        )
    )


async def _throttled_for(
    audit: AuditRepository, *, name: str, ip: str | None, now: datetime, settings: GatewaySettings
) -> int:
    """Seconds until a sign-in as ``name`` from ``ip`` may be tried again; 0: now."""
    window = timedelta(seconds=settings.login_window_s)
    limit = settings.login_max_failures
    by_name, by_ip = await audit.recent(
        action="sign_in_failed", since=now - window, username=name, ip=ip, limit=limit
    )
    waits = [
        # The limit-th newest failure leaves the window first among those that count.
        (times[limit - 1] + window - now).total_seconds()
        for times in (by_name, by_ip)
        if len(times) >= limit
    ]
    return max(1, math.ceil(max(waits))) if waits else 0


def _event(
    action: str, status: int, username: str, where: Where, *, actor_id: int | None = None
) -> AuditEntry:
    return AuditEntry(
        action=action,
        method="POST",
        path=SIGN_IN_PATH,
        resource=SIGN_IN_PATH,
        status=status,
        actor_id=actor_id,
        actor_username=username,
        request_id=where.request_id,
        ip=where.ip,
    )
