"""Roles and scopes: what a role in a project lets its holder do, and what a request needs.

A caller's rights in a project are its role's scopes, intersected with its token's when it came
with one::

    effective_scopes("editor", frozenset({"read"}))   # -> {"read"}
    effective_scopes("admin", None)                    # -> every scope
    required_scope("POST", "/api/v1/projects/SHOP/executions")  # -> "execute"
"""

from __future__ import annotations

from typing import Literal

ProjectRole = Literal["viewer", "editor", "owner"]
PROJECT_ROLES: tuple[ProjectRole, ...] = ("viewer", "editor", "owner")
ADMIN = "admin"
"""The instance role that may do everything, in every project; also the role a principal of an
instance admin carries."""

TOKEN_SCOPES = ("read", "write", "execute")
"""The scopes a user's token may carry (a configured token line may also carry ``admin``)."""

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "write", "execute"}),
    "owner": frozenset({"read", "write", "execute", "manage"}),
    ADMIN: frozenset({"read", "write", "execute", "manage", "admin"}),
}
"""What each role may do: ``manage`` is members and project settings; ``admin`` everything."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_API = "/api/v1/"
_PROJECTS = "/api/v1/projects/"


def expand(token_scopes: frozenset[str]) -> frozenset[str]:
    """A token's scopes as rights: ``admin`` (configured lines only) stands for all of them."""
    return ROLE_SCOPES[ADMIN] if ADMIN in token_scopes else token_scopes


def effective_scopes(role: str, token_scopes: frozenset[str] | None) -> frozenset[str]:
    """The scopes of ``role``, within the token's when the caller came with one (None: a
    session or the local admin, limited by the role alone)."""
    scopes = ROLE_SCOPES[role]
    return scopes if token_scopes is None else scopes & expand(token_scopes)


CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""The methods TestOps' routes change something with."""


def is_write(method: str) -> bool:
    return method not in _SAFE_METHODS


def unscoped(path: str) -> str:
    """``path`` without its ``/projects/{key}`` (``/api/v1/projects/SHOP/runs`` →
    ``/api/v1/runs``)."""
    if not path.startswith(_PROJECTS):
        return path
    rest = path[len(_PROJECTS) :].split("/", 1)
    return _API + (rest[1] if len(rest) > 1 else "")


def required_scope(method: str, path: str) -> str:
    """The scope a request needs: reading, changing, or starting executions."""
    if not is_write(method):
        return "read"
    if method == "POST" and (unscoped(path) + "/").startswith("/api/v1/executions/"):
        return "execute"
    return "write"
