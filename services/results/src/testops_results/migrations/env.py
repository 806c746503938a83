"""Alembic environment of the results service: ``testops-results migrate`` runs it."""

from testops_kit.migrations import run_env
from testops_results.models import Base
from testops_results.settings import ResultsSettings

run_env(Base.metadata, default_url=lambda: ResultsSettings().resolved_database_url)
