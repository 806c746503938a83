"""Routes of test results: a run's results, one result in full, a test's history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, Field

from testops_kit.database import SessionDep
from testops_kit.errors import NotFound, problem_responses
from testops_kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from testops_kit.projects import ProjectDep
from testops_kit.schemas import NO_NUL_PATTERN, IdPath, reject_nul
from testops_results import allure
from testops_results.analytics import repository as analytics
from testops_results.analytics.schemas import Flakiness
from testops_results.analytics.service import count_flips
from testops_results.models import Attachment, TestResult
from testops_results.results import repository
from testops_results.results.schemas import (
    AttachmentRef,
    Fixture,
    HistoryItem,
    HistoryPage,
    ResultItem,
    ResultOut,
    Status,
    StatusDetails,
    Step,
)
from testops_results.runs import repository as runs
from testops_results.runs.errors import RunNotFound

router = APIRouter(tags=["results"])


class ResultNotFound(NotFound):
    code = "result_not_found"
    title = "Result not found"


def _label_filter(value: str) -> str:
    reject_nul(value)
    name, sep, label_value = value.partition(":")
    if not sep or not name:
        raise ValueError("must be name:value")
    return value


# What _label_filter takes, for the document (the validator gives the plainer message).
_LABEL_PATTERN = r"^[^:\x00]+:[^\x00]*$"


def _item(result: TestResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "uuid": result.uuid,
        "history_id": result.history_id,
        "test_case_id": result.test_case_id,
        "name": result.name,
        "full_name": result.full_name,
        "status": result.status,
        "message": result.message,
        "duration_ms": result.duration_ms,
        "is_retry": result.is_retry,
        "flaky": result.flaky,
    }


@router.get(
    "/runs/{run_id}/results",
    summary="List a run's results",
    responses=problem_responses(404, 422),
)
async def list_run_results(
    run_id: IdPath,
    session: SessionDep,
    project: ProjectDep,
    status: Annotated[list[Status], Query(description="Status; repeat for any of several.")] = [],  # noqa: B006
    q: Annotated[
        str | None,
        Query(
            max_length=255, pattern=NO_NUL_PATTERN, description="Substring of name or full name."
        ),
    ] = None,
    label: Annotated[
        list[
            Annotated[
                str,
                AfterValidator(_label_filter),
                Field(json_schema_extra={"pattern": _LABEL_PATTERN}),
            ]
        ],
        Query(description="`name:value`; repeat to require all of them."),
    ] = [],  # noqa: B006
    include_retries: Annotated[bool, Query(description="Also list the retried attempts.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ResultItem]:
    if await runs.get(session, run_id, project=project) is None:
        raise RunNotFound(f"No run {run_id}.")
    results, next_cursor = await repository.list_results(
        session,
        run_id=run_id,
        statuses=list(status),
        q=q,
        labels=[(name, value) for name, _, value in (item.partition(":") for item in label)],
        include_retries=include_retries,
        cursor=cursor,
        limit=limit,
    )
    return Page(
        items=[ResultItem.model_validate(_item(result)) for result in results],
        next_cursor=next_cursor,
    )


def _document(text: str) -> dict[str, Any]:
    """A stored file as JSON; it was an object when it was uploaded."""
    parsed = orjson.loads(text)
    return parsed if isinstance(parsed, dict) else {}


def _sources(nodes: list[dict[str, Any]]) -> Iterator[str]:
    for node in nodes:
        for attachment in node.get("attachments", []):
            if attachment.get("source"):
                yield attachment["source"]
        yield from _sources(node.get("steps", []))


def _refs(items: list[dict[str, Any]], found: dict[str, Attachment]) -> list[AttachmentRef]:
    refs = []
    for item in items:
        stored = found.get(item.get("source") or "")
        refs.append(
            AttachmentRef(
                id=stored.id if stored else None,
                name=item.get("name"),
                source=item.get("source"),
                content_type=item.get("content_type") or (stored.content_type if stored else None),
                size=stored.size if stored else None,
            )
        )
    return refs


def _steps(steps: list[dict[str, Any]], found: dict[str, Attachment]) -> list[Step]:
    return [
        Step(
            name=step["name"],
            status=step["status"],
            status_details=step["status_details"],
            started_at=allure.moment(step.get("start")),
            finished_at=allure.moment(step.get("stop")),
            duration_ms=step.get("duration_ms"),
            parameters=step.get("parameters", []),
            steps=_steps(step.get("steps", []), found),
            attachments=_refs(step.get("attachments", []), found),
        )
        for step in steps
    ]


def _fixtures(fixtures: list[dict[str, Any]], found: dict[str, Attachment]) -> list[Fixture]:
    return [
        Fixture(
            name=fixture["name"],
            status=fixture["status"],
            status_details=fixture["status_details"],
            started_at=allure.moment(fixture.get("start")),
            finished_at=allure.moment(fixture.get("stop")),
            duration_ms=fixture.get("duration_ms"),
            steps=_steps(fixture.get("steps", []), found),
            attachments=_refs(fixture.get("attachments", []), found),
        )
        for fixture in fixtures
    ]


@router.get(
    "/results/{result_id}",
    summary="Get a result with its steps, attachments and fixtures",
    responses=problem_responses(404, 422),
)
async def get_result(result_id: IdPath, session: SessionDep, project: ProjectDep) -> ResultOut:
    result = await repository.get(session, result_id, project=project)
    if result is None:
        raise ResultNotFound(f"No result {result_id}.")
    document = _document(result.document)
    containers = [_document(c.document) for c in await repository.fixtures_of(session, result)]
    befores = [f for c in containers for f in allure.convert_fixtures(c.get("befores"))]
    afters = [f for c in containers for f in allure.convert_fixtures(c.get("afters"))]
    steps = allure.convert_steps(document.get("steps"))
    attachments = allure.convert_attachments(document.get("attachments"))
    sources = [
        *_sources([{"attachments": attachments, "steps": steps}]),
        *_sources(befores),
        *_sources(afters),
    ]
    found = await repository.attachments_by_source(session, result.run_id, sources)
    return ResultOut.model_validate(
        {
            **_item(result),
            "run_id": result.run_id,
            "started_at": allure.moment(result.start_ms),
            "finished_at": allure.moment(result.stop_ms),
            "status_details": StatusDetails(
                message=result.message,
                trace=result.trace,
                flaky=result.flaky,
                muted=result.muted,
                known=result.known,
            ),
            "description": result.description,
            "description_html": allure.text_of(document.get("descriptionHtml")),
            "labels": allure.convert_labels(document.get("labels")),
            "parameters": allure.convert_parameters(document.get("parameters")),
            "links": allure.convert_links(document.get("links")),
            "steps": _steps(steps, found),
            "attachments": _refs(attachments, found),
            "befores": _fixtures(befores, found),
            "afters": _fixtures(afters, found),
        }
    )


HistoryId = Annotated[
    str,
    Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$", description="A history id."),
]


@router.get(
    "/tests/{history_id}/history",
    summary="A test's results across runs, newest first",
    responses=problem_responses(422),
)
async def get_test_history(
    history_id: HistoryId,
    session: SessionDep,
    project: ProjectDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> HistoryPage:
    """The counted result (never a retried attempt) of every non-deleted run that has the test,
    with the test's `flakiness` over the results of this page: flips between `passed` and
    `failed`/`broken` from one to the next, and passes after a failed or broken attempt.
    Only the runs of the project the request acts in."""
    rows, next_cursor = await repository.history(
        session, project=project, history_id=history_id, cursor=cursor, limit=limit
    )
    retried = await analytics.runs_with_failed_attempts(
        session, history_id=history_id, run_ids=[run.id for _, run in rows]
    )
    flips = count_flips([result.status for result, _ in reversed(rows)])
    passed_on_retry = sum(
        1 for result, run in rows if result.status == "passed" and run.id in retried
    )
    return HistoryPage(
        items=[
            HistoryItem.model_validate(
                {
                    **_item(result),
                    "run_id": run.id,
                    "run_name": run.name,
                    "created_at": run.created_at,
                }
            )
            for result, run in rows
        ],
        next_cursor=next_cursor,
        flakiness=Flakiness(
            flaky=flips > 0 or passed_on_retry > 0,
            flips=flips,
            window=len(rows),
            passed_on_retry=passed_on_retry,
        ),
    )
