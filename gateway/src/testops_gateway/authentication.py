"""Who a request comes from: a bearer token (a user's, or a line of the gateway's settings), a
session cookie, or, with ``AUTH_DISABLED`` on loopback, the built-in local admin.

A user's token or session is found in one query, together with its user and the user's role in
the project the request acts in, so that a revoked token, an ended session or a deactivated
user is refused on the very next request::

    found = await authenticator.authenticate(scope, project="SHOP")
    # a Caller, or why not: NO_CREDENTIALS, INVALID_TOKEN, MALFORMED, SESSION_ENDED
"""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import timedelta
from typing import Any

from starlette.types import Scope

from testops_gateway.auth import Token, TokenStore, digest_of
from testops_gateway.callers import LOCAL_ADMIN_NAME, Caller, ProjectAccess
from testops_gateway.projects.repository import ProjectRepository
from testops_gateway.roles import ADMIN
from testops_gateway.sessions import repository as sessions
from testops_gateway.sessions.cookies import SESSION_COOKIE, cookies_of
from testops_gateway.sessions.cookies import digest_of as session_digest
from testops_gateway.tokens import repository as tokens
from testops_gateway.tokens.repository import AccessRow
from testops_gateway.usage import UsageRecorder
from testops_kit.database import Database, utcnow
from testops_kit.projects import DEFAULT_PROJECT, PROJECT_KEY


class Refused(enum.Enum):
    NO_CREDENTIALS = "no_credentials"
    """Neither a token nor a (live) session."""
    INVALID_TOKEN = "invalid_token"
    """A bearer token the gateway does not know, or one revoked, expired, or of a deactivated
    user."""
    MALFORMED = "malformed"
    """An ``Authorization`` header that is not ``Bearer <token>``."""
    SESSION_ENDED = "session_ended"
    """A session cookie of a session that was signed out, expired, or of a deactivated user."""


class Authenticator:
    """Finds the caller of a request; ``database`` is set when the app starts."""

    def __init__(
        self,
        *,
        configured: TokenStore,
        auth_disabled: bool,
        usage: UsageRecorder,
        session_idle_s: int,
    ) -> None:
        self.configured = configured
        self.auth_disabled = auth_disabled
        self.usage = usage
        self.session_idle = timedelta(seconds=session_idle_s)
        self.database: Database | None = None

    async def authenticate(
        self, scope: Scope, *, project: str | None, resolve_project: bool = True
    ) -> Caller | Refused:
        """The caller, with its access to ``project`` (the path's; None: the token's own, else
        the default) unless ``resolve_project`` is false; or why there is none.

        With ``AUTH_DISABLED``, a request without credentials is the local admin; one with
        credentials is who they say, or refused when they are not good (a revoked token, a
        signed-out session): credentials that stopped working never fall back to an admin."""
        bearer, malformed = _bearer(scope)
        found: Caller | Refused
        if bearer is not None:
            found = await self._by_token(bearer, project, resolve_project)
        elif malformed:
            found = Refused.MALFORMED
        else:
            found = await self._by_session(scope, project)
        if found is not Refused.NO_CREDENTIALS or not self.auth_disabled:
            return found
        local = Caller(
            via="local_admin", subject=LOCAL_ADMIN_NAME, name=LOCAL_ADMIN_NAME, instance_role=ADMIN
        )
        return await self._with_project(local, project) if resolve_project else local

    async def _by_token(
        self, presented: str, project: str | None, resolve_project: bool
    ) -> Caller | Refused:
        line = self.configured.find(presented)
        if line is not None:
            caller = _configured(line)
            return await self._with_project(caller, project) if resolve_project else caller
        row = await self._query(tokens.access, digest_of(presented), project)
        if row is None:
            return Refused.INVALID_TOKEN
        now = utcnow()
        if (
            row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
            or row.deactivated_at is not None
        ):
            return Refused.INVALID_TOKEN
        self.usage.token_used(row.id, now)
        return Caller(
            via="token",
            subject=str(row.user_id),
            name=row.username,
            instance_role=row.instance_role,
            user_id=row.user_id,
            token_id=row.id,
            token_name=row.name,
            token_scopes=frozenset(row.scopes.split(",")),
            token_project=row.token_project,
            project=_access(row, project or row.token_project),
        )

    async def _by_session(self, scope: Scope, project: str | None) -> Caller | Refused:
        secret = cookies_of(scope).get(SESSION_COOKIE)
        if not secret:
            return Refused.NO_CREDENTIALS
        row = await self._query(sessions.access, session_digest(secret), project)
        now = utcnow()
        # An ended session is refused, even where anonymous requests are the local admin's:
        # signing out must end what the cookie could do.
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or self.usage.session_last_use(row.id, row.last_seen_at) + self.session_idle <= now
            or row.deactivated_at is not None
        ):
            return Refused.SESSION_ENDED
        self.usage.session_used(row.id, now)
        return Caller(
            via="session",
            subject=str(row.user_id),
            name=row.username,
            instance_role=row.instance_role,
            user_id=row.user_id,
            session_id=row.id,
            csrf_digest=row.csrf_digest,
            project=_access(row, project),
        )

    async def _with_project(self, caller: Caller, project: str | None) -> Caller:
        key = project or DEFAULT_PROJECT
        if not PROJECT_KEY.fullmatch(key):
            access = ProjectAccess(key=key, exists=False)
        else:
            async with self._database().session() as session:
                exists, archived_at = await ProjectRepository(session).archived_at(key)
            access = ProjectAccess(key=key, exists=exists, archived=archived_at is not None)
        return replace(caller, project=access)

    async def _query(self, query: Any, digest: bytes, project: str | None) -> AccessRow | None:
        # A key that cannot be one (too long, a NUL, lower case) matches no project; it is not
        # sent to the database as it is (PostgreSQL refuses NUL in text).
        if project is not None and not PROJECT_KEY.fullmatch(project):
            project = ""
        async with self._database().session() as session:
            row: AccessRow | None = await query(session, digest, project)
            return row

    def _database(self) -> Database:
        if self.database is None:
            raise RuntimeError("the gateway's database is not open")
        return self.database


def _configured(line: Token) -> Caller:
    """A line of ``TOKENS``/``TOKENS_FILE``: an instance admin, within the line's scopes."""
    name = f"token:{line.name}"
    return Caller(
        via="configured_token",
        subject=name,
        name=name,
        instance_role=ADMIN,
        token_name=line.name,
        token_scopes=line.scopes,
    )


def _access(row: AccessRow, project: str | None) -> ProjectAccess:
    return ProjectAccess(
        key=project or DEFAULT_PROJECT,
        exists=row.project is not None,
        archived=row.project_archived_at is not None,
        role=row.role,
    )


def _bearer(scope: Scope) -> tuple[str | None, bool]:
    """The bearer token, and whether an ``Authorization`` header that is none was sent."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip(), False
            return None, True
    return None, False
