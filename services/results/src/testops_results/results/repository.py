"""Every query of results: a run's results, one result with its fixtures, a test's history."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, Text, and_, exists, func, or_, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.pagination import Keyset
from testops_results.models import (
    Attachment,
    Container,
    ContainerChild,
    Run,
    TestResult,
)

BY_ID = Keyset("results_id", TestResult.id)
NEWEST_FIRST = Keyset("history_newest", TestResult.id, descending=True)


def _like(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_labels(keys: list[str], session: AsyncSession) -> list[ColumnElement[bool]]:
    """Results carrying every label of ``keys``: PostgreSQL's array containment (GIN
    indexed), SQLite's JSON table function."""
    if session.get_bind().dialect.name == "postgresql":
        array = type_coerce(TestResult.label_keys, postgresql.ARRAY(Text))
        return [array.contains(keys)]
    conditions: list[ColumnElement[bool]] = []
    for key in keys:
        element = func.json_each(TestResult.label_keys).table_valued("value")
        conditions.append(exists().select_from(element).where(element.c.value == key))
    return conditions


async def list_results(
    session: AsyncSession,
    *,
    run_id: int,
    statuses: list[str],
    q: str | None,
    labels: list[tuple[str, str]],
    include_retries: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[TestResult], str | None]:
    statement: Select[TestResult] = select(TestResult).where(TestResult.run_id == run_id)
    if statuses:
        statement = statement.where(TestResult.status.in_(statuses))
    if not include_retries:
        statement = statement.where(TestResult.is_retry.is_(False))
    if q:
        pattern = _like(q)
        statement = statement.where(
            or_(
                func.lower(TestResult.name).like(pattern, escape="\\"),
                func.lower(TestResult.full_name).like(pattern, escape="\\"),
            )
        )
    if labels:
        statement = statement.where(
            *_has_labels([f"{name}:{value}" for name, value in labels], session)
        )
    statement = BY_ID.paginate(statement, cursor=cursor, limit=limit)
    rows = (await session.scalars(statement)).all()
    return BY_ID.page(rows, limit=limit, key=lambda result: (result.id,))


async def get(session: AsyncSession, result_id: int, *, project: str) -> TestResult | None:
    """The result, when its run exists in ``project`` and is not deleted."""
    return await session.scalar(
        select(TestResult)
        .join(Run, Run.id == TestResult.run_id)
        .where(TestResult.id == result_id, Run.project == project, Run.deleted_at.is_(None))
    )


async def fixtures_of(session: AsyncSession, result: TestResult) -> list[Container]:
    """The containers whose children include ``result``, in the order they were uploaded."""
    return list(
        (
            await session.scalars(
                select(Container)
                .join(ContainerChild, ContainerChild.container_id == Container.id)
                .where(
                    ContainerChild.run_id == result.run_id,
                    ContainerChild.result_uuid == result.uuid,
                )
                .order_by(Container.id)
            )
        ).all()
    )


async def attachments_by_source(
    session: AsyncSession, run_id: int, sources: Iterable[str]
) -> dict[str, Attachment]:
    wanted = sorted(set(sources))
    found: dict[str, Attachment] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(
            select(Attachment).where(
                Attachment.run_id == run_id, Attachment.source.in_(wanted[start : start + 500])
            )
        )
        found.update({row.source: row for row in rows})
    return found


async def history(
    session: AsyncSession, *, project: str, history_id: str, cursor: str | None, limit: int
) -> tuple[list[tuple[TestResult, Run]], str | None]:
    """The counted results of the test in the non-deleted runs of ``project``, newest first:
    one range of the project's history index."""
    statement: Select[TestResult, Run] = (
        select(TestResult, Run)
        .join(
            Run,
            and_(Run.id == TestResult.run_id, Run.project == project, Run.deleted_at.is_(None)),
        )
        .where(
            TestResult.project == project,
            TestResult.history_id == history_id,
            TestResult.is_retry.is_(False),
        )
    )
    statement = NEWEST_FIRST.paginate(statement, cursor=cursor, limit=limit)
    rows = [(result, run) for result, run in (await session.execute(statement)).all()]
    return NEWEST_FIRST.page(rows, limit=limit, key=lambda row: (row[0].id,))
