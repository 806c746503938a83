"""The signed principal: what a service accepts, and everything it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request

from testops_kit.principal import (
    EXECUTOR_ISSUER,
    GATEWAY_ISSUER,
    HEADER,
    InvalidPrincipal,
    Principal,
    PrincipalMiddleware,
    PrincipalSigner,
    PrincipalVerifier,
    ensure_key_pair,
    generate_private_key,
    load_private_key,
    load_public_key,
    public_key_of,
)

ALICE = Principal(
    subject="7",
    name="alice",
    project="SHOP",
    role="editor",
    scopes=frozenset({"read", "write"}),
    request_id="req-1",
)


@pytest.fixture(scope="module")
def gateway_pem() -> bytes:
    return generate_private_key()


@pytest.fixture(scope="module")
def signer(gateway_pem: bytes) -> PrincipalSigner:
    return PrincipalSigner(load_private_key(gateway_pem), issuer=GATEWAY_ISSUER)


@pytest.fixture(scope="module")
def verifier(gateway_pem: bytes) -> PrincipalVerifier:
    return PrincipalVerifier(
        {GATEWAY_ISSUER: load_public_key(public_key_of(gateway_pem))}, audience="catalog"
    )


def test_a_signed_principal_is_read_back_whole(
    signer: PrincipalSigner, verifier: PrincipalVerifier
) -> None:
    assert verifier.verify(signer.sign(ALICE, audience="catalog")) == ALICE


def test_a_principal_for_another_service_is_refused(
    signer: PrincipalSigner, verifier: PrincipalVerifier
) -> None:
    with pytest.raises(InvalidPrincipal, match="(?i)audience"):
        verifier.verify(signer.sign(ALICE, audience="executor"))


def test_a_principal_signed_by_another_key_is_refused(verifier: PrincipalVerifier) -> None:
    other = PrincipalSigner(load_private_key(generate_private_key()), issuer=GATEWAY_ISSUER)

    with pytest.raises(InvalidPrincipal, match="[Ss]ignature"):
        verifier.verify(other.sign(ALICE, audience="catalog"))


def test_an_expired_principal_is_refused(gateway_pem: bytes, verifier: PrincipalVerifier) -> None:
    past = PrincipalSigner(
        load_private_key(gateway_pem), issuer=GATEWAY_ISSUER, clock=lambda: time.time() - 60
    )

    with pytest.raises(InvalidPrincipal, match="expired"):
        verifier.verify(past.sign(ALICE, audience="catalog"))


def test_a_principal_that_lives_too_long_is_refused(
    gateway_pem: bytes, verifier: PrincipalVerifier
) -> None:
    lavish = PrincipalSigner(load_private_key(gateway_pem), issuer=GATEWAY_ISSUER, lifetime_s=3600)

    with pytest.raises(InvalidPrincipal, match="longer"):
        verifier.verify(lavish.sign(ALICE, audience="catalog"))


def test_an_unknown_issuer_is_refused(gateway_pem: bytes, verifier: PrincipalVerifier) -> None:
    executor = PrincipalSigner(load_private_key(gateway_pem), issuer=EXECUTOR_ISSUER)

    with pytest.raises(InvalidPrincipal, match="issuer"):
        verifier.verify(executor.sign(ALICE, audience="catalog"))


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_principal_is_refused(verifier: PrincipalVerifier) -> None:
    now = int(time.time())
    claims = {
        "iss": GATEWAY_ISSUER,
        "aud": "catalog",
        "sub": "1",
        "prj": "SHOP",
        "role": "admin",
        "scp": ["admin"],
        "iat": now,
        "exp": now + 30,
    }
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': GATEWAY_ISSUER})}.{_b64(claims)}."

    with pytest.raises(InvalidPrincipal, match="alg value is not allowed"):
        verifier.verify(unsigned)


def test_a_principal_signed_with_the_public_key_as_a_shared_secret_is_refused(
    gateway_pem: bytes, verifier: PrincipalVerifier
) -> None:
    now = int(time.time())
    claims = {
        "iss": GATEWAY_ISSUER,
        "aud": "catalog",
        "sub": "1",
        "prj": "SHOP",
        "role": "admin",
        "scp": ["admin"],
        "iat": now,
        "exp": now + 30,
    }
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": GATEWAY_ISSUER})
    body = _b64(claims)
    signature = hmac.new(public_key_of(gateway_pem), f"{header}.{body}".encode(), hashlib.sha256)
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(signature.digest()).rstrip(b'=').decode()}"

    with pytest.raises(InvalidPrincipal, match="alg value is not allowed"):
        verifier.verify(forged)


def test_a_principal_without_a_project_is_refused(
    gateway_pem: bytes, verifier: PrincipalVerifier
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": GATEWAY_ISSUER,
            "aud": "catalog",
            "sub": "1",
            "role": "admin",
            "scp": [],
            "iat": now,
            "exp": now + 30,
        },
        load_private_key(gateway_pem),
        algorithm="EdDSA",
        headers={"kid": GATEWAY_ISSUER},
    )

    with pytest.raises(InvalidPrincipal, match="prj"):
        verifier.verify(token)


def test_a_key_pair_is_made_once_with_a_private_file_only_its_owner_reads(tmp_path: Path) -> None:
    private, public = tmp_path / "keys" / "principal.pem", tmp_path / "keys" / "principal.pub"

    assert ensure_key_pair(private, public) is True
    first = private.read_bytes()
    assert ensure_key_pair(private, public) is False

    assert private.read_bytes() == first
    assert private.stat().st_mode & 0o777 == 0o600
    assert public.read_bytes() == public_key_of(first)


@pytest.fixture
async def guarded(verifier: PrincipalVerifier) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        principal: Principal = request.state.principal
        return {"name": principal.name, "project": principal.project}

    @app.post("/api/v1/runs")
    async def upload() -> dict[str, str]:
        return {"status": "stored"}

    def executor_may(method: str, path: str) -> bool:
        return method == "POST" and path == "/api/v1/runs"

    app.add_middleware(
        PrincipalMiddleware, verifier=verifier, policies={EXECUTOR_ISSUER: executor_may}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        yield client


async def test_a_request_without_a_principal_is_401(guarded: httpx.AsyncClient) -> None:
    response = await guarded.get("/api/v1/whoami")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_health_needs_no_principal(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/healthz")).status_code == 200


async def test_the_principal_reaches_the_endpoint(
    guarded: httpx.AsyncClient, signer: PrincipalSigner
) -> None:
    response = await guarded.get(
        "/api/v1/whoami", headers={HEADER: signer.sign(ALICE, audience="catalog")}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"name": "alice", "project": "SHOP"}


async def test_another_issuer_may_do_only_what_its_policy_allows(
    gateway_pem: bytes,
) -> None:
    executor_pem = generate_private_key()
    verifier = PrincipalVerifier(
        {
            GATEWAY_ISSUER: load_public_key(public_key_of(gateway_pem)),
            EXECUTOR_ISSUER: load_public_key(public_key_of(executor_pem)),
        },
        audience="catalog",
    )
    executor = PrincipalSigner(load_private_key(executor_pem), issuer=EXECUTOR_ISSUER)
    app = FastAPI()

    @app.get("/api/v1/runs")
    async def runs() -> list[str]:
        return []

    @app.post("/api/v1/runs")
    async def upload() -> dict[str, str]:
        return {"status": "stored"}

    app.add_middleware(
        PrincipalMiddleware,
        verifier=verifier,
        policies={EXECUTOR_ISSUER: lambda method, path: method == "POST"},
    )
    headers = {HEADER: executor.sign(ALICE, audience="catalog")}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service.test"
    ) as client:
        assert (await client.post("/api/v1/runs", headers=headers)).status_code == 200
        assert (await client.get("/api/v1/runs", headers=headers)).status_code == 401
