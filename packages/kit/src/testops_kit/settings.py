"""Settings every TestOps process shares.

Each process subclasses :class:`ServiceSettings` with its own environment prefix::

    class CatalogSettings(DatabaseSettings):
        model_config = service_config("TESTOPS_CATALOG_")
        service_name: ClassVar[str] = "catalog"
        port: int = 8001

    CatalogSettings()  # reads TESTOPS_CATALOG_PORT, TESTOPS_CATALOG_DATABASE_URL, ...
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from testops_kit.database_urls import normalize_database_url

LogFormat = Literal["json", "console"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


def service_config(prefix: str) -> SettingsConfigDict:
    """The settings config of a process: its env prefix, no `.env` file, unknown keys ignored."""
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", case_sensitive=False)


class ServiceSettings(BaseSettings):
    """What every process takes: where it listens, how it logs, where embedded data lives."""

    service_name: ClassVar[str] = "service"

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on.")
    log_level: LogLevel = Field(default="info", description="Lowest level that is logged.")
    log_format: LogFormat = Field(
        default="console", description="`json` (one event per line) or `console` (key=value)."
    )
    data_dir: Path = Field(
        default=Path("./.testops"), description="Folder of the embedded defaults (SQLite, blobs)."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class DatabaseSettings(ServiceSettings):
    """Settings of a process that owns a database."""

    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the service's database; `postgresql://…` or `sqlite:///…`. "
            "Default: `sqlite+aiosqlite:///<DATA_DIR>/<service>.db`."
        ),
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply Alembic migrations at start-up."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connection pool size.")
    sqlite_busy_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="How long a SQLite writer waits for the lock before answering 503.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL with the async driver named, defaulting to the embedded SQLite file."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        path = (self.data_dir / f"{self.service_name}.db").resolve()
        return f"sqlite+aiosqlite:///{path}"


class StorageSettings(ServiceSettings):
    """Settings of a process that keeps objects (attachments, reports) in object storage."""

    storage_url: str | None = Field(
        default=None,
        description=(
            "`file:///abs/path` or `s3://bucket/prefix`. Default: `file://<DATA_DIR>/blobs`."
        ),
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for MinIO and other S3-compatible stores."
    )
    s3_region: str | None = Field(default=None, description="S3 region.")
    s3_access_key_id: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key (never logged)."
    )
    s3_max_connections: int = Field(
        default=20, ge=1, description="Connections kept open to S3 at most."
    )

    @property
    def resolved_storage_url(self) -> str:
        """The storage URL, defaulting to a folder under ``DATA_DIR``."""
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.data_dir / 'blobs').resolve()}"


class PrincipalSettings(ServiceSettings):
    """Settings of a service that answers only requests a principal signed by the gateway
    vouches for (:mod:`testops_kit.principal`)."""

    principal_public_key: str | None = Field(
        default=None,
        description="The gateway's Ed25519 public key (PEM) that signed principals are checked "
        "with. Default: the file `PRINCIPAL_PUBLIC_KEY_FILE`.",
    )
    principal_public_key_file: Path | None = Field(
        default=None,
        description="A file holding that key. Default: `<DATA_DIR>/keys/principal.pub`, which "
        "`make run` makes.",
    )

    @property
    def resolved_principal_public_key_file(self) -> Path:
        return self.principal_public_key_file or self.data_dir / "keys" / "principal.pub"

    def principal_public_key_pem(self) -> bytes:
        """The key, from the setting or its file; :class:`FileNotFoundError` names the file
        when neither is there."""
        if self.principal_public_key:
            return self.principal_public_key.encode()
        return self.resolved_principal_public_key_file.read_bytes()
