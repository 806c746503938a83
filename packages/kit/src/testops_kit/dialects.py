"""The few statements that PostgreSQL and SQLite spell differently, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Table, insert, text
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


def _table(entity: Any) -> Table:
    table = getattr(entity, "__table__", entity)
    assert isinstance(table, Table)
    return table


async def allocate_ids(session: AsyncSession, entity: Any, count: int) -> list[int]:
    """``count`` new ids for rows of ``entity`` (a mapped class or table with an integer ``id``
    primary key), in order.

    PostgreSQL draws them from the table's sequence. SQLite takes the next ones after the
    highest ever used; the caller holds the write lock (``BEGIN IMMEDIATE``), so no other
    writer can take them meanwhile.
    """
    if count == 0:
        return []
    table = _table(entity)
    if session.get_bind().dialect.name == "postgresql":
        rows = await session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
        return [row[0] for row in rows]
    highest = await session.scalar(
        text(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = :table), 0), "
            f'coalesce((SELECT max(id) FROM "{table.name}"), 0))'
        ),
        {"table": table.name},
    )
    first = int(highest or 0) + 1
    return list(range(first, first + count))


async def bulk_insert(
    session: AsyncSession,
    entity: Any,
    columns: Sequence[str],
    records: Sequence[Sequence[Any]],
) -> None:
    """Insert many rows at once: ``COPY`` on PostgreSQL, one prepared ``executemany`` on SQLite.

    ``records`` are tuples of values for ``columns``, in that order.
    """
    if not records:
        return
    table = _table(entity)
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in records])
        return
    dialect = session.get_bind().dialect
    encoded = [
        (index, encode)
        for index, name in enumerate(columns)
        if (encode := _copy_encoder(table.c[name].type.dialect_impl(dialect))) is not None
    ]
    if encoded:
        converted = []
        for record in records:
            values = list(record)
            for index, encode in encoded:
                if values[index] is not None:
                    values[index] = encode(values[index])
            converted.append(values)
        records = converted
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table.name, records=records, columns=list(columns))


def _copy_encoder(type_: Any) -> Any:
    """COPY skips SQLAlchemy's bind processing: JSON goes as text, times as aware datetimes."""
    if isinstance(type_, JSON):
        return lambda value: orjson.dumps(value).decode()
    return None
