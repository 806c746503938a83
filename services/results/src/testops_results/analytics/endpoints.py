"""Routes of analytics: flaky tests and trends of a run name, and a run's failures grouped."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query

from testops_kit.database import SessionDep
from testops_kit.errors import problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep
from testops_kit.schemas import NO_NUL_PATTERN, IdPath
from testops_results.analytics import repository, service
from testops_results.analytics.schemas import (
    FailedResult,
    FailureGroup,
    FlakyTest,
    RecentResult,
    RunFailures,
    TrendPoint,
    Trends,
)
from testops_results.runs import repository as runs
from testops_results.runs.errors import RunNotFound
from testops_results.runs.schemas import RunOut

router = APIRouter(tags=["analytics"])

DEFAULT_WINDOW = 20
RunName = Annotated[
    str, Query(min_length=1, max_length=255, pattern=NO_NUL_PATTERN, description="Exact run name.")
]


@router.get(
    "/analytics/flaky",
    summary="List the flaky tests of the newest runs of a name",
    responses=problem_responses(422),
)
async def list_flaky_tests(
    session: SessionDep,
    project: ProjectDep,
    name: RunName,
    window: Annotated[
        int, Query(ge=2, le=MAX_LIMIT, description="How many of the newest runs to look at.")
    ] = DEFAULT_WINDOW,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[FlakyTest]:
    """Tests whose counted result changed between `passed` and `failed`/`broken` from one run
    to the next within the newest `window` non-deleted runs called `name`, or that passed after
    a failed or broken attempt in one of them. Most flips first, then most passes on retry,
    then name. Keyset-paginated: each page is computed over the window as it is when that page
    is asked for, so a run uploaded between pages can shift the ranking. Stable tests never
    appear. Only the runs of the project the request acts in."""
    found, next_cursor = await repository.list_flaky(
        session, project=project, name=name, window=window, cursor=cursor, limit=limit
    )
    recent = await repository.recent_results(
        session,
        project=project,
        name=name,
        window=window,
        history_ids=[row.history_id for row in found],
    )
    last: defaultdict[str, list[RecentResult]] = defaultdict(list)
    for row in recent:
        last[row.history_id].append(
            RecentResult.model_validate(
                {
                    "result_id": row.result_id,
                    "run_id": row.run_id,
                    "status": row.status,
                    "created_at": row.created_at,
                }
            )
        )
    return Page(
        items=[
            FlakyTest(
                history_id=row.history_id,
                name=row.name,
                full_name=row.full_name,
                flips=row.flips,
                passed_on_retry=row.passed_on_retry,
                last_results=last[row.history_id],
            )
            for row in found
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/analytics/trends",
    summary="List the stats of the newest runs of a name, oldest first",
    responses=problem_responses(422),
)
async def list_run_trends(
    session: SessionDep,
    project: ProjectDep,
    name: RunName,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"How many runs, 1–{MAX_LIMIT}.")
    ] = DEFAULT_WINDOW,
) -> Trends:
    """The newest `limit` non-deleted runs called `name`, each with its status, stats and
    duration, oldest first (as a chart draws them), of the project the request acts in. Not
    paginated."""
    found = await repository.trend_runs(session, project=project, name=name, limit=limit)
    points = []
    for run in found:
        out = RunOut.of(run)
        points.append(
            TrendPoint(
                id=out.id,
                created_at=out.created_at,
                status=out.status,
                stats=out.stats,
                duration_ms=out.duration_ms,
            )
        )
    return Trends(name=name, items=points)


@router.get(
    "/runs/{run_id}/failures",
    summary="List a run's failures grouped by cause",
    responses=problem_responses(404, 422),
)
async def list_run_failures(
    run_id: IdPath, session: SessionDep, project: ProjectDep
) -> RunFailures:
    """The run's counted `failed` and `broken` results (not retried attempts), grouped by a
    fingerprint of the status, the normalised message and the three innermost stack frames;
    largest group first. Not paginated."""
    if await runs.get(session, run_id, project=project) is None:
        raise RunNotFound(f"No run {run_id}.")
    groups = service.group_failures(await repository.failures(session, run_id=run_id))
    return RunFailures(
        run_id=run_id,
        groups=[
            FailureGroup.model_validate(
                {
                    "fingerprint": group.fingerprint,
                    "status": group.status,
                    "message": group.message,
                    "count": len(group.results),
                    "results": [
                        FailedResult.model_validate(
                            {
                                "id": row.id,
                                "name": row.name,
                                "full_name": row.full_name,
                                "status": row.status,
                            }
                        )
                        for row in group.results
                    ],
                }
            )
            for group in groups
        ],
    )
