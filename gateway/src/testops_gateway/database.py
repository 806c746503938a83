"""The gateway's identity database: where its migrations are, and the database and settings as
endpoints that open their own transactions take them (a password is hashed outside any
transaction, so that SQLite's write lock is not held while it is)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from testops_gateway.settings import GatewaySettings
from testops_kit.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def app_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def app_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(app_database)]
SettingsDep = Annotated[GatewaySettings, Depends(app_settings)]
