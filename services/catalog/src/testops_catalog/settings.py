"""The catalog's settings, read from ``TESTOPS_CATALOG_*`` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from testops_kit.settings import (
    DatabaseSettings,
    PrincipalSettings,
    StorageSettings,
    service_config,
)

MIB = 1024 * 1024


class CatalogSettings(DatabaseSettings, StorageSettings, PrincipalSettings):
    model_config = service_config("TESTOPS_CATALOG_")
    service_name: ClassVar[str] = "catalog"

    port: int = Field(default=8001, ge=0, le=65535, description="Port to listen on.")
    max_attachment_bytes: int = Field(
        default=100 * MIB,
        ge=0,
        description="Largest test case attachment accepted, in bytes; larger uploads are 413.",
    )
