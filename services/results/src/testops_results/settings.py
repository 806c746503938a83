"""The results service's settings, read from ``TESTOPS_RESULTS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from testops_kit.settings import DatabaseSettings, StorageSettings, service_config


class ResultsSettings(DatabaseSettings, StorageSettings):
    model_config = service_config("TESTOPS_RESULTS_")
    service_name: ClassVar[str] = "results"

    port: int = Field(default=8002, ge=0, le=65535, description="Port to listen on.")
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
