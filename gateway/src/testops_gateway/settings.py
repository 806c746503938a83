"""Settings of the gateway: where the services are, its identity database, who may call, and
how hard."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from testops_kit.settings import DatabaseSettings, service_config

UPSTREAMS = ("catalog", "results", "executor")


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the gateway reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class GatewaySettings(DatabaseSettings):
    model_config = service_config("TESTOPS_GATEWAY_")
    service_name: ClassVar[str] = "gateway"

    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on.")

    catalog_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the catalog service."
    )
    results_url: str = Field(
        default="http://127.0.0.1:8002", description="Base URL of the results service."
    )
    executor_url: str = Field(
        default="http://127.0.0.1:8003", description="Base URL of the executor service."
    )
    catalog_timeout_s: float = Field(
        default=30, gt=0, description="Longest wait for the catalog between two bytes."
    )
    results_timeout_s: float = Field(
        default=300,
        gt=0,
        description="Longest wait for results between two bytes (an upload is answered when "
        "it has been stored).",
    )
    executor_timeout_s: float = Field(
        default=30, gt=0, description="Longest wait for the executor between two bytes."
    )
    connect_timeout_s: float = Field(
        default=5, gt=0, description="Longest wait for a connection to a service."
    )
    upstream_max_connections: int = Field(
        default=100, ge=1, description="Connections kept open to each service, at most."
    )

    tokens: SecretStr | None = Field(
        default=None,
        description="Token lines `name:scopes:sha256:<hex>`, separated by newlines or `;` "
        "(as `testops-gateway create-token` prints them).",
    )
    tokens_file: Path | None = Field(
        default=None, description="A file of token lines, one per line (`#` starts a comment)."
    )
    auth_disabled: bool = Field(
        default=False,
        description="A request without a valid token or session acts as the built-in local "
        "admin; refused unless `HOST` is a loopback address.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma list of origins a browser app may call from "
        "(`https://testops.example.com`); empty = none.",
    )
    rate_limit_per_s: float = Field(
        default=50,
        ge=0,
        description="Requests per second allowed to each token (or address, when anonymous); "
        "0 = no limit.",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests a caller may make at once above the rate."
    )
    public_url: str = Field(
        default="",
        description="URL clients reach the gateway at, for the OpenAPI `servers` "
        "(e.g. `https://testops.example.com`); empty = relative to the docs page.",
    )
    principal_private_key: SecretStr | None = Field(
        default=None,
        description="The Ed25519 private key (PEM) the gateway signs each forwarded request's "
        "principal with; the services hold its public half. Default: the file "
        "`PRINCIPAL_PRIVATE_KEY_FILE`.",
    )
    principal_private_key_file: Path | None = Field(
        default=None,
        description="A file holding that key, readable by the gateway only. Default: "
        "`<DATA_DIR>/keys/principal.pem`, which `make run` makes.",
    )
    readiness_timeout_s: float = Field(
        default=2, gt=0, description="Longest wait for a service's `/readyz`."
    )
    session_idle_s: int = Field(
        default=8 * 3600,
        ge=1,
        description="A browser session unused this long ends (its user signs in again).",
    )
    session_max_age_s: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        description="A browser session ends this long after its sign-in, however busy it is.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins allowed for one username, or from one address, within "
        "`LOGIN_WINDOW_S`; the next attempt is 429 until the oldest of them is that old.",
    )
    login_window_s: int = Field(
        default=900, ge=1, description="The window failed sign-ins are counted in."
    )
    token_usage_flush_s: float = Field(
        default=30,
        gt=0,
        description="How often the time tokens and sessions were last used is written to the "
        "database (it is kept in memory in between, never written per request).",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=0,
        description="Audit events older than this are deleted (checked hourly); 0 = kept forever.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _comma_list(value)

    @field_validator("catalog_url", "results_url", "executor_url", "public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_principal_private_key_file(self) -> Path:
        return self.principal_private_key_file or self.data_dir / "keys" / "principal.pem"

    def upstream_url(self, name: str) -> str:
        url: str = getattr(self, f"{name}_url")
        return url

    def upstream_timeout_s(self, name: str) -> float:
        timeout: float = getattr(self, f"{name}_timeout_s")
        return timeout

    def token_lines(self) -> list[str]:
        """Every configured token line, from ``TOKENS`` then ``TOKENS_FILE``."""
        text = self.tokens.get_secret_value().replace(";", "\n") if self.tokens else ""
        if self.tokens_file is not None:
            text += "\n" + self.tokens_file.read_text(encoding="utf-8")
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]
