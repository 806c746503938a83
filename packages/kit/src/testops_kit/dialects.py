"""The few statements that PostgreSQL and SQLite spell differently, side by side."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignoring_conflicts(
    session: AsyncSession, entity: Any, *, index_elements: list[str]
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(entity).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(entity).on_conflict_do_nothing(index_elements=index_elements)
