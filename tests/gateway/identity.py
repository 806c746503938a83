"""Making the users, projects, memberships, tokens and browser sessions identity tests need,
through the gateway's own API, as an instance admin (the `root` token line) would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from tests.gateway.conftest import bearer

API = "/api/v1"
PASSWORD = "correct horse battery staple"


def new_key(prefix: str = "P") -> str:
    """A project key no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def new_username(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Admin:
    """Calls the gateway's identity API as an instance admin."""

    client: httpx.AsyncClient
    root_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.root_token)

    async def user(
        self,
        *,
        kind: str = "service",
        instance_role: str = "user",
        password: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "username": username or new_username(kind),
            "kind": kind,
            "instance_role": instance_role,
        }
        if password is not None:
            body["password"] = password
        response = await self.client.post(f"{API}/users", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user

    async def project(self, key: str | None = None) -> str:
        key = key or new_key()
        response = await self.client.post(
            f"{API}/projects", json={"key": key, "name": f"Project {key}"}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return key

    async def member(self, key: str, user_id: int, role: str) -> None:
        response = await self.client.put(
            f"{API}/projects/{key}/members/{user_id}", json={"role": role}, headers=self.headers
        )
        assert response.status_code in (200, 201), response.text

    async def token(
        self,
        user_id: int,
        *,
        scopes: tuple[str, ...] = ("read", "write", "execute"),
        project: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """A new token of the service account ``user_id``: its fields and ``token``."""
        body: dict[str, Any] = {"name": "ci", "scopes": list(scopes)}
        if project is not None:
            body["project"] = project
        if expires_at is not None:
            body["expires_at"] = expires_at
        response = await self.client.post(
            f"{API}/users/{user_id}/tokens", json=body, headers=self.headers
        )
        assert response.status_code == 201, response.text
        token: dict[str, Any] = response.json()
        return token

    async def account(
        self,
        key: str | None,
        role: str | None,
        *,
        scopes: tuple[str, ...] = ("read", "write", "execute"),
        token_project: str | None = None,
        instance_role: str = "user",
    ) -> Account:
        """A service account with ``role`` in ``key`` (none when either is None) and a token."""
        user = await self.user(instance_role=instance_role)
        if key is not None and role is not None:
            await self.member(key, user["id"], role)
        token = await self.token(user["id"], scopes=scopes, project=token_project)
        return Account(user=user, token=token["token"], token_id=token["id"])

    async def deactivate(self, user_id: int) -> None:
        response = await self.client.delete(f"{API}/users/{user_id}", headers=self.headers)
        assert response.status_code == 204, response.text


@dataclass(frozen=True)
class Account:
    user: dict[str, Any]
    token: str
    token_id: int

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def id(self) -> int:
        user_id: int = self.user["id"]
        return user_id

    @property
    def username(self) -> str:
        username: str = self.user["username"]
        return username


@asynccontextmanager
async def browser(
    gateway: httpx.AsyncClient, *, address: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of ``gateway``'s app with a cookie jar of its own, calling from
    ``address`` (by default one no other browser uses: sign-ins are throttled per address)."""
    transport = gateway._transport
    assert isinstance(transport, httpx.ASGITransport)
    address = address or new_address()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=transport.app, client=(address, 40000)),
        base_url=str(gateway.base_url),
    ) as client:
        yield client


def new_address() -> str:
    """An IPv4 address no other test uses."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in; the CSRF token its writes must send."""
    response = await client.post(
        f"{API}/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 204, response.text
    csrf = client.cookies.get("testops_csrf")
    assert csrf, response.headers
    return csrf


def csrf_header(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}
