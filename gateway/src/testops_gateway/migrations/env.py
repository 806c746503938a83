"""Alembic environment of the gateway: ``testops-gateway migrate`` runs it."""

from testops_gateway.models import Base
from testops_gateway.settings import GatewaySettings
from testops_kit.migrations import run_env

run_env(Base.metadata, default_url=lambda: GatewaySettings().resolved_database_url)
