"""Alembic environment of the executor service: ``testops-executor migrate`` runs it."""

from testops_executor.models import Base
from testops_executor.settings import ExecutorSettings
from testops_kit.migrations import run_env

run_env(Base.metadata, default_url=lambda: ExecutorSettings().resolved_database_url)
