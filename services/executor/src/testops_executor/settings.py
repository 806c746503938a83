"""The executor's settings, read from ``TESTOPS_EXECUTOR_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from testops_kit.settings import DatabaseSettings, PrincipalSettings, service_config

CommaList = Annotated[list[str], NoDecode]


class ExecutorSettings(DatabaseSettings, PrincipalSettings):
    model_config = service_config("TESTOPS_EXECUTOR_")
    service_name: ClassVar[str] = "executor"

    port: int = Field(default=8003, ge=0, le=65535, description="Port to listen on.")
    results_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Base URL of the results service the allure-results are uploaded to.",
    )
    allowed_repo_schemes: CommaList = Field(
        default=["https"],
        description="URL schemes a repository may be cloned with (comma list: https, http, file).",
    )
    allowed_repo_hosts: CommaList = Field(
        default=[], description="Hosts repositories may come from (comma list; empty: any host)."
    )
    git_http_header: SecretStr | None = Field(
        default=None,
        description=(
            "An HTTP header sent to the git server on clone, e.g. `Authorization: Bearer …`; "
            "never logged, never passed to the tests."
        ),
    )
    child_env: CommaList = Field(
        default=[
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "UV_INDEX_URL",
            "UV_DEFAULT_INDEX",
            "UV_EXTRA_INDEX_URL",
            "UV_NATIVE_TLS",
        ],
        description=(
            "Environment variables passed from the executor's environment to the commands it "
            "runs (certificates, proxies, package indexes); `TESTOPS_*` never are."
        ),
    )
    queue_limit: int = Field(
        default=100, ge=1, description="Pending executions at most; more is 429 queue_full."
    )
    default_timeout_s: int = Field(
        default=3600, ge=1, description="Overall time limit of an execution that sets none."
    )
    max_timeout_s: int = Field(
        default=6 * 3600, ge=1, description="The largest `timeout_s` a request may ask for."
    )
    clone_timeout_s: int = Field(default=300, ge=1, description="Time limit of the clone.")
    sync_timeout_s: int = Field(default=1200, ge=1, description="Time limit of `uv sync`.")
    upload_timeout_s: int = Field(default=300, ge=1, description="Time limit of the upload.")
    kill_grace_s: float = Field(
        default=10, ge=0, description="Between TERM and KILL when a run is stopped."
    )
    log_max_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Log kept per execution; the rest is cut."
    )
    workspace_dir: Path | None = Field(
        default=None, description="Where checkouts live while they run. Default: DATA_DIR/work."
    )
    uv_cache_dir: Path | None = Field(
        default=None,
        description="uv's cache shared by executions. Default: DATA_DIR/uv-cache.",
    )
    lease_s: int = Field(
        default=30,
        ge=3,
        description="A running execution whose process has not reported for this long is lost.",
    )
    poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often an idle executor looks for queued work."
    )
    upload_attempts: int = Field(default=3, ge=1, description="Tries of the upload to results.")
    upload_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "The executor's own Ed25519 private key (PEM) it signs each upload to results with "
            "(results checks it with its `EXECUTOR_PUBLIC_KEY`); never logged, never given to "
            "the commands it runs. Default: the file `UPLOAD_SIGNING_KEY_FILE`."
        ),
    )
    upload_signing_key_file: Path | None = Field(
        default=None,
        description=(
            "A file holding that key. Default: `<DATA_DIR>/keys/executor.pem`, which `make run` "
            "makes."
        ),
    )

    @field_validator("allowed_repo_schemes", "allowed_repo_hosts", mode="before")
    @classmethod
    def _comma_list_lower(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().lower() for item in value.split(",") if item.strip()]
        return value

    @field_validator("child_env", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def resolved_workspace_dir(self) -> Path:
        return (self.workspace_dir or self.data_dir / "work").resolve()

    @property
    def resolved_uv_cache_dir(self) -> Path:
        return (self.uv_cache_dir or self.data_dir / "uv-cache").resolve()

    @property
    def resolved_upload_signing_key_file(self) -> Path:
        return self.upload_signing_key_file or self.data_dir / "keys" / "executor.pem"
