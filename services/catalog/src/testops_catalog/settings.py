"""The catalog's settings, read from ``TESTOPS_CATALOG_*`` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from testops_kit.settings import DatabaseSettings, service_config


class CatalogSettings(DatabaseSettings):
    model_config = service_config("TESTOPS_CATALOG_")
    service_name: ClassVar[str] = "catalog"

    port: int = Field(default=8001, ge=0, le=65535, description="Port to listen on.")
