"""The few statements that PostgreSQL and SQLite spell differently, side by side."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_ignoring_conflicts(
    session: AsyncSession, entity: Any, *, index_elements: list[str]
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(entity).on_conflict_do_nothing(index_elements=index_elements)
    return sqlite.insert(entity).on_conflict_do_nothing(index_elements=index_elements)


async def plan_each_statement_for_its_values(session: AsyncSession) -> None:
    """Within this transaction, PostgreSQL plans every statement for the values it gets.

    asyncpg prepares statements, and after five runs PostgreSQL may keep a generic plan. For a
    substring search the pattern decides between an index and a walk of the whole table, so a
    plan made for another pattern can cost a hundred times more. SQLite has nothing to pin.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def upsert(
    session: AsyncSession, entity: Any, *, index_elements: list[str], update: list[str]
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO UPDATE SET col = excluded.col`` for ``update``.

    On PostgreSQL the update also locks the existing row until the transaction ends.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(entity)
    return statement.on_conflict_do_update(
        index_elements=index_elements,
        set_={column: statement.excluded[column] for column in update},
    )
