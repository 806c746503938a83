"""Alembic environment of the catalog: ``testops-catalog migrate`` runs it."""

from testops_catalog.models import Base
from testops_catalog.settings import CatalogSettings
from testops_kit.migrations import run_env

run_env(Base.metadata, default_url=lambda: CatalogSettings().resolved_database_url)
