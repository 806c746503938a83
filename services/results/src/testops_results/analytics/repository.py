"""Every query of analytics: flakiness over a window of runs, trends, a run's failures.

A test's *window* is the newest N non-deleted runs of one name in one project (never another
project's runs, whatever they are called). Over it, a test's counted results (never retried
attempts) that passed, failed or broke form a sequence, oldest run first; a *flip* is a change
between `passed` and `failed`/`broken` from one to the next. A *passed-on-retry* is a counted
result that passed in a run where an attempt of the same test failed or broke. A test is flaky
when it has either.

Only tests with a failed or broken result (counted or retried) somewhere in the window can be
flaky, so the sequences are built for those alone: the run and status index finds them, which
keeps the mark an upload makes cheap when most of its tests pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Integer,
    Select,
    Subquery,
    and_,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from testops_kit.pagination import Keyset
from testops_results.models import Run, TestResult

FAILING = ("failed", "broken")
DECIDED = ("passed", *FAILING)
LAST_RESULTS = 5


def window_runs(*, project: str, name: str, window: int, up_to: int | None = None) -> Select[int]:
    """Ids of the newest ``window`` non-deleted runs of ``project`` called ``name`` (none newer
    than ``up_to``)."""
    statement = select(Run.id).where(
        Run.project == project, Run.name == name, Run.deleted_at.is_(None)
    )
    if up_to is not None:
        statement = statement.where(Run.id <= up_to)
    return statement.order_by(Run.id.desc()).limit(window)


def _flakiness(runs: Subquery) -> Subquery:
    """Per flaky test of the window ``runs``: ``history_id``, ``flips``, ``passed_on_retry``,
    ``name`` (of its newest result) and ``full_name``."""
    in_window = TestResult.run_id.in_(select(runs.c.id))
    candidates = (
        select(TestResult.history_id)
        .where(in_window, TestResult.status.in_(FAILING), TestResult.history_id.is_not(None))
        .distinct()
    )
    failed_attempts = (
        select(TestResult.run_id, TestResult.history_id)
        .where(in_window, TestResult.is_retry.is_(True), TestResult.status.in_(FAILING))
        .distinct()
        .subquery("failed_attempts")
    )
    passed = case((TestResult.status == "passed", 1), else_=0)
    sequence = (
        select(
            TestResult.history_id,
            passed.label("passed"),
            func.lag(passed)
            .over(partition_by=TestResult.history_id, order_by=TestResult.run_id)
            .label("previous"),
            case(
                (and_(TestResult.status == "passed", failed_attempts.c.run_id.is_not(None)), 1),
                else_=0,
            ).label("retried_pass"),
            func.last_value(TestResult.name)
            .over(partition_by=TestResult.history_id, order_by=TestResult.run_id, rows=(None, None))
            .label("newest_name"),
            TestResult.full_name,
        )
        .outerjoin(
            failed_attempts,
            and_(
                failed_attempts.c.run_id == TestResult.run_id,
                failed_attempts.c.history_id == TestResult.history_id,
            ),
        )
        .where(
            in_window,
            TestResult.is_retry.is_(False),
            TestResult.status.in_(DECIDED),
            TestResult.history_id.in_(candidates),
        )
        .subquery("sequence")
    )
    flip = case(
        (and_(sequence.c.previous.is_not(None), sequence.c.previous != sequence.c.passed), 1),
        else_=0,
    )
    flips = func.sum(flip, type_=Integer)
    retried = func.sum(sequence.c.retried_pass, type_=Integer)
    return (
        select(
            sequence.c.history_id,
            flips.label("flips"),
            retried.label("passed_on_retry"),
            func.max(sequence.c.newest_name).label("name"),
            func.max(sequence.c.full_name).label("full_name"),
        )
        .group_by(sequence.c.history_id)
        .having(or_(flips > 0, retried > 0))
        .subquery("flakiness")
    )


async def mark_flaky(session: AsyncSession, *, run: Run, window: int) -> None:
    """Set ``flaky`` on the results of ``run`` whose test is flaky over the newest ``window``
    runs of its name and project up to it. One statement; a flag already set (by Allure)
    stays."""
    runs = window_runs(project=run.project, name=run.name, window=window, up_to=run.id).subquery(
        "window_runs"
    )
    flaky = _flakiness(runs)
    await session.execute(
        update(TestResult)
        .where(
            TestResult.run_id == run.id,
            TestResult.flaky.is_(False),
            TestResult.history_id.in_(select(flaky.c.history_id)),
        )
        .values(flaky=True)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class FlakyRow:
    history_id: str
    name: str
    full_name: str | None
    flips: int
    passed_on_retry: int


@dataclass(frozen=True, slots=True)
class RecentRow:
    history_id: str
    result_id: int
    run_id: int
    status: str
    created_at: datetime


async def list_flaky(
    session: AsyncSession,
    *,
    project: str,
    name: str,
    window: int,
    cursor: str | None,
    limit: int,
) -> tuple[list[FlakyRow], str | None]:
    """Flaky tests of the window, most flips first, then most passes on retry, then name."""
    runs = window_runs(project=project, name=name, window=window).subquery("window_runs")
    flaky = _flakiness(runs)
    # Keyset needs one direction: the counts go in negated, so all of it is ascending.
    ranking = Keyset(
        "flaky_rank",
        (-flaky.c.flips).label("rank_flips"),
        (-flaky.c.passed_on_retry).label("rank_retried"),
        flaky.c.name,
        flaky.c.history_id,
    )
    statement = ranking.paginate(select(flaky), cursor=cursor, limit=limit)
    rows = [
        FlakyRow(
            history_id=row.history_id,
            name=row.name,
            full_name=row.full_name,
            flips=int(row.flips),
            passed_on_retry=int(row.passed_on_retry),
        )
        for row in (await session.execute(statement)).all()
    ]
    return ranking.page(
        rows,
        limit=limit,
        key=lambda row: (-row.flips, -row.passed_on_retry, row.name, row.history_id),
    )


async def recent_results(
    session: AsyncSession,
    *,
    project: str,
    name: str,
    window: int,
    history_ids: Sequence[str],
) -> list[RecentRow]:
    """The newest :data:`LAST_RESULTS` counted results of each of ``history_ids`` in the
    window, newest first."""
    if not history_ids:
        return []
    runs = window_runs(project=project, name=name, window=window).subquery("window_runs")
    newest = (
        func.row_number()
        .over(partition_by=TestResult.history_id, order_by=TestResult.run_id.desc())
        .label("newest")
    )
    ranked = (
        select(
            TestResult.history_id,
            TestResult.id.label("result_id"),
            TestResult.run_id,
            TestResult.status,
            Run.created_at,
            newest,
        )
        .join(Run, Run.id == TestResult.run_id)
        .where(
            TestResult.run_id.in_(select(runs.c.id)),
            TestResult.is_retry.is_(False),
            TestResult.history_id.in_(list(history_ids)),
        )
        .subquery("ranked")
    )
    rows = await session.execute(
        select(ranked)
        .where(ranked.c.newest <= LAST_RESULTS)
        .order_by(ranked.c.history_id, ranked.c.run_id.desc())
    )
    return [
        RecentRow(
            history_id=row.history_id,
            result_id=row.result_id,
            run_id=row.run_id,
            status=row.status,
            created_at=row.created_at,
        )
        for row in rows
    ]


async def runs_with_failed_attempts(
    session: AsyncSession, *, history_id: str, run_ids: Sequence[int]
) -> set[int]:
    """Which of ``run_ids`` hold a failed or broken retried attempt of the test."""
    if not run_ids:
        return set()
    found = await session.scalars(
        select(TestResult.run_id)
        .where(
            TestResult.history_id == history_id,
            TestResult.run_id.in_(list(run_ids)),
            TestResult.is_retry.is_(True),
            TestResult.status.in_(FAILING),
        )
        .distinct()
    )
    return set(found)


async def trend_runs(session: AsyncSession, *, project: str, name: str, limit: int) -> list[Run]:
    """The newest ``limit`` non-deleted runs of ``project`` called ``name``, oldest first."""
    newest = await session.scalars(
        select(Run)
        .where(Run.project == project, Run.name == name, Run.deleted_at.is_(None))
        .order_by(Run.id.desc())
        .limit(limit)
    )
    return list(reversed(newest.all()))


@dataclass(frozen=True, slots=True)
class FailureRow:
    id: int
    name: str
    full_name: str | None
    status: str
    message: str | None
    trace: str | None


async def failures(session: AsyncSession, *, run_id: int) -> list[FailureRow]:
    """The run's counted failed and broken results, in upload order."""
    rows = await session.execute(
        select(
            TestResult.id,
            TestResult.name,
            TestResult.full_name,
            TestResult.status,
            TestResult.message,
            TestResult.trace,
        )
        .where(
            TestResult.run_id == run_id,
            TestResult.status.in_(FAILING),
            TestResult.is_retry.is_(False),
        )
        .order_by(TestResult.id)
    )
    return [FailureRow(*row) for row in rows]
