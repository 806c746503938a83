"""The results service's settings, read from ``TESTOPS_RESULTS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from testops_kit.settings import (
    DatabaseSettings,
    PrincipalSettings,
    StorageSettings,
    service_config,
)


class ResultsSettings(DatabaseSettings, StorageSettings, PrincipalSettings):
    model_config = service_config("TESTOPS_RESULTS_")
    service_name: ClassVar[str] = "results"

    port: int = Field(default=8002, ge=0, le=65535, description="Port to listen on.")
    executor_public_key: str | None = Field(
        default=None,
        description=(
            "The executor's Ed25519 public key (PEM): uploads the executor signs with its own key "
            "(`POST /runs`, `POST /runs/{id}/files`, nothing else) are checked with it. "
            "Default: the file `EXECUTOR_PUBLIC_KEY_FILE`; without either, executor uploads "
            "are refused."
        ),
    )
    executor_public_key_file: Path | None = Field(
        default=None,
        description=(
            "A file holding that key. Default: `<DATA_DIR>/keys/executor.pub` when it exists "
            "(`make run` makes it); a file named here must exist."
        ),
    )
    max_upload_files: int = Field(
        default=10_000,
        ge=1,
        description="Files one multipart upload may carry; send an archive beyond that.",
    )
    max_archive_members: int = Field(
        default=200_000, ge=1, description="Members one uploaded archive may hold."
    )
    max_archive_bytes: int = Field(
        default=10 * 1024**3,
        ge=1,
        description="Total uncompressed bytes one uploaded archive may unpack to (zip bombs).",
    )
    max_archive_ratio: float = Field(
        default=100,
        ge=1,
        description=(
            "How many times its compressed size an uploaded archive may unpack to, counted as it "
            "is read, once it has unpacked past `archive_ratio_floor_bytes` (compression bombs)."
        ),
    )
    archive_ratio_floor_bytes: int = Field(
        default=64 * 1024**2,
        ge=0,
        description=(
            "Uncompressed bytes an archive may unpack to whatever its ratio: a small upload is "
            "never refused for compressing well."
        ),
    )
    spool_dir: Path | None = Field(
        default=None,
        description="Where uploads are staged on disk while ingested. Default: system temp.",
    )
    upload_lease_s: int = Field(
        default=60,
        ge=5,
        description=(
            "An upload whose process has not reported for this long is abandoned: its objects "
            "are removed by the sweep."
        ),
    )
    storage_concurrency: int = Field(
        default=8, ge=1, le=64, description="Objects written to storage at once during an upload."
    )
    allure_cli: str | None = Field(
        default=None,
        description=(
            "The Allure 3 CLI that builds reports: a path, or a command looked up on `PATH`. "
            "Default: `.tools/allure/node_modules/.bin/allure` (what `make allure` installs) in "
            "the working directory or a folder above it or above the installed package, else "
            "`allure` on `PATH`."
        ),
    )
    report_history_limit: int = Field(
        default=1000,
        ge=0,
        description=(
            "Earlier runs of the same name a report's history (trend, per-test history) is built "
            "from; the only cap on it."
        ),
    )
    report_timeout_s: int = Field(
        default=600,
        ge=1,
        description="How long the Allure CLI may take for one report before it is stopped.",
    )
    report_lease_s: int = Field(
        default=60,
        ge=5,
        description=(
            "A report build whose process has not reported for this long is lost: it is queued "
            "again once, then failed (`build_lost`)."
        ),
    )
    flaky_window: int = Field(
        default=20,
        ge=2,
        le=500,
        description=(
            "An upload marks a result `flaky` when its test flipped between passed and "
            "failed/broken, or passed on a retry, in this many newest runs of the run's name."
        ),
    )

    @property
    def resolved_executor_public_key_file(self) -> Path:
        return self.executor_public_key_file or self.data_dir / "keys" / "executor.pub"
