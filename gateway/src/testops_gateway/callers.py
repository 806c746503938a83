"""Who is calling: what :mod:`testops_gateway.authentication` found, as the gateway's own
endpoints take it::

    @router.get("/me")
    async def get_me(caller: CallerDep, session: SessionDep) -> MeOut: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from testops_gateway.roles import ADMIN
from testops_kit.errors import TestOpsError

Via = Literal["token", "session", "configured_token", "local_admin"]
LOCAL_ADMIN_NAME = "local-admin"


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """The project a request acts in, and the caller's place in it, as one query found them."""

    key: str
    exists: bool
    archived: bool = False
    role: str | None = None
    """The caller's membership role; None when it is not a member."""


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller."""

    via: Via
    subject: str
    """The user's id, ``token:<name>`` for a configured token line, or ``local-admin``."""
    name: str
    instance_role: str
    user_id: int | None = None
    token_id: int | None = None
    token_name: str | None = None
    token_scopes: frozenset[str] | None = None
    """None when no token limits the caller (a session, the local admin)."""
    token_project: str | None = None
    """The project a user's token is restricted to."""
    session_id: int | None = None
    csrf_digest: bytes | None = None
    project: ProjectAccess | None = None

    @property
    def is_admin(self) -> bool:
        return self.instance_role == ADMIN

    @property
    def is_user(self) -> bool:
        """Whether a user of the database stands behind the caller."""
        return self.user_id is not None

    @property
    def rate_key(self) -> str:
        """Whose rate limit a request counts against."""
        if self.token_id is not None:
            return f"token:{self.token_id}"
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return self.subject

    def allows(self, scope: str) -> bool:
        """Whether the caller's token (if any) carries ``scope``."""
        if self.token_scopes is None:
            return True
        return scope in self.token_scopes or ADMIN in self.token_scopes


class Forbidden(TestOpsError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


def current_caller(request: Request) -> Caller:
    """The caller :class:`~testops_gateway.access.AccessControl` authenticated."""
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    if caller is None:  # a route AccessControl does not guard asked for one: a wiring mistake
        raise RuntimeError(f"no caller for {request.url.path}")
    return caller


def optional_caller(request: Request) -> Caller | None:
    """The caller when the request came with valid credentials (sign-out)."""
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    return caller


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("Only an instance admin may do this.")


CallerDep = Annotated[Caller, Depends(current_caller)]
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
