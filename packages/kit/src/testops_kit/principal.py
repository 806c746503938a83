"""The signed principal: who a request acts for, vouched for by the process that signed it.

The gateway signs one per forwarded request with a private key only it holds; every service
verifies it with the matching public key and refuses a request without a valid one. A principal
is an EdDSA (Ed25519) JWT, short-lived and addressed to one service::

    signer = PrincipalSigner(load_private_key(pem), issuer=GATEWAY_ISSUER)
    token = signer.sign(Principal(subject="7", name="alice", project="SHOP", role="editor",
                                  scopes=frozenset({"read", "write"}), request_id="r1"),
                        audience="catalog")
    verifier = PrincipalVerifier({GATEWAY_ISSUER: load_public_key(pub)}, audience="catalog")
    verifier.verify(token)  # -> the Principal, or InvalidPrincipal
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from starlette.types import ASGIApp, Receive, Scope, Send

from testops_kit.errors import problem_response
from testops_kit.logging import get_logger
from testops_kit.settings import PrincipalSettings

HEADER = "X-TestOps-Principal"
GATEWAY_ISSUER = "testops-gateway"
EXECUTOR_ISSUER = "testops-executor"
LIFETIME_S = 30
"""How long a signed principal is valid: long enough for a slow upload's first byte to reach
the service, short enough that a captured one is soon worthless."""
LEEWAY_S = 5
"""Clock skew tolerated between the signer and the verifier."""
_ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "prj", "role", "scp", "iat", "exp"]
UNGUARDED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Paths a service answers without a principal: probes and metrics hold nothing of a project."""

log = get_logger(__name__)


class MissingKey(Exception):
    """A key the process cannot start without is not configured; the message says which
    setting gives it."""


class InvalidPrincipal(Exception):
    """The principal is missing, forged, expired or not for this service; the message says
    which, for the log (the client is told only that it is not authenticated)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for, in which project, with which rights."""

    subject: str
    """The user's id, ``local-admin``, ``token:<name>`` or ``execution:<id>``."""
    name: str
    project: str
    role: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None
    issuer: str = GATEWAY_ISSUER

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def generate_private_key() -> bytes:
    """A new Ed25519 private key, PEM (PKCS #8)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_of(private_pem: bytes) -> bytes:
    """The public half of ``private_pem``, PEM (SubjectPublicKeyInfo)."""
    return (
        load_private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the private key is not an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def ensure_key_pair(private_path: Path, public_path: Path) -> bool:
    """Write a new key pair to the two paths unless the private key exists (the public key is
    written again from it when missing). Whether a new pair was made. The private key's file
    is readable by its owner only."""
    made = False
    if not private_path.exists():
        private_path.parent.mkdir(parents=True, exist_ok=True)
        private_path.touch(mode=0o600)
        private_path.chmod(0o600)
        private_path.write_bytes(generate_private_key())
        made = True
    if made or not public_path.exists():
        public_path.parent.mkdir(parents=True, exist_ok=True)
        public_path.write_bytes(public_key_of(private_path.read_bytes()))
    return made


class PrincipalSigner:
    """Signs principals as ``issuer`` with a private key."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        *,
        issuer: str,
        lifetime_s: int = LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self._clock = clock

    def sign(self, principal: Principal, *, audience: str) -> str:
        now = int(self._clock())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": principal.subject,
            "name": principal.name,
            "prj": principal.project,
            "role": principal.role,
            "scp": sorted(principal.scopes),
            "iat": now,
            "exp": now + self.lifetime_s,
        }
        if principal.request_id:
            claims["rid"] = principal.request_id
        # `kid` names the issuer, so a verifier picks the key without decoding the claims twice.
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM, headers={"kid": self.issuer})


class PrincipalVerifier:
    """Verifies principals addressed to ``audience``, signed by one of ``keys`` (issuer →
    public key)."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], *, audience: str) -> None:
        self._keys = dict(keys)
        self.audience = audience

    def verify(self, token: str) -> Principal:
        try:
            issuer = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidPrincipal(f"not a JWT: {exc}") from None
        if not isinstance(issuer, str) or issuer not in self._keys:
            raise InvalidPrincipal(f"no key for the issuer {issuer!r}")
        key = self._keys[issuer]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self.audience,
                issuer=issuer,
                leeway=LEEWAY_S,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidPrincipal(str(exc)) from None
        scopes = claims["scp"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise InvalidPrincipal("scp is not a list of scopes")
        if claims["exp"] - claims["iat"] > LIFETIME_S * 2:
            raise InvalidPrincipal("the principal lives longer than any signer makes one")
        for name in ("sub", "prj", "role"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise InvalidPrincipal(f"{name} is not a non-empty string")
        return Principal(
            subject=claims["sub"],
            name=str(claims.get("name") or claims["sub"]),
            project=claims["prj"],
            role=claims["role"],
            scopes=frozenset(scopes),
            request_id=claims.get("rid") if isinstance(claims.get("rid"), str) else None,
            issuer=issuer,
        )


IssuerPolicy = Callable[[str, str], bool]
"""``(method, path) -> bool``: whether a principal of some issuer may make this request."""


class PrincipalMiddleware:
    """Pure ASGI: every HTTP request but :data:`UNGUARDED_PATHS` needs a valid principal in
    :data:`HEADER`, else 401 ``unauthenticated``. The principal is put in
    ``scope["state"]["principal"]``.

    ``policies`` limit what principals of an issuer other than the gateway may do (the
    executor's may only upload results)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: PrincipalVerifier,
        policies: Mapping[str, IssuerPolicy] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.policies = dict(policies or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGUARDED_PATHS:
            await self.app(scope, receive, send)
            return
        header = HEADER.lower().encode()
        raw = next((value for name, value in scope["headers"] if name == header), None)
        try:
            if raw is None:
                raise InvalidPrincipal("no principal")
            principal = self.verifier.verify(raw.decode("latin-1"))
            policy = self.policies.get(principal.issuer)
            if principal.issuer != GATEWAY_ISSUER and (
                policy is None or not policy(scope["method"], scope["path"])
            ):
                raise InvalidPrincipal(f"{principal.issuer} may not {scope['method']} this path")
        except InvalidPrincipal as exc:
            log.info("principal_refused", reason=str(exc)[:200])
            await problem_response(
                status=401,
                code="unauthenticated",
                title="Unauthenticated",
                detail="This service answers only requests that come through the TestOps gateway.",
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def read_key(pem: str | bytes | None, file: Path, *, setting: str) -> bytes:
    """A key from its setting (PEM text) or else its file; :class:`MissingKey` names both when
    neither is there."""
    if pem:
        return pem.encode() if isinstance(pem, str) else pem
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise MissingKey(
            f"no key in {setting} and no file {file} ({setting}_FILE): `make run` makes the "
            "key pairs in <DATA_DIR>/keys, `testops-gateway keygen <folder>` anywhere"
        ) from None


def gateway_verifier(
    settings: PrincipalSettings,
    *,
    audience: str,
    others: Mapping[str, Ed25519PublicKey] | None = None,
) -> PrincipalVerifier:
    """The verifier of a service: principals the gateway signed for ``audience`` (and those of
    ``others``, issuer → key)."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    pem = read_key(
        settings.principal_public_key,
        settings.resolved_principal_public_key_file,
        setting=f"{prefix}PRINCIPAL_PUBLIC_KEY",
    )
    try:
        key = load_public_key(pem)
    except ValueError as exc:
        raise MissingKey(
            f"{prefix}PRINCIPAL_PUBLIC_KEY is not an Ed25519 public key: {exc}"
        ) from None
    return PrincipalVerifier({GATEWAY_ISSUER: key, **(others or {})}, audience=audience)
