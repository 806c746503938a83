"""Test case rules: unique active names, numbered steps, tags and suites by name or id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import TestCase
from testops_catalog.suites import service as suites
from testops_catalog.tags import service as tags
from testops_catalog.tags.repository import TagRepository
from testops_catalog.tags.schemas import TagRef
from testops_catalog.test_cases.errors import CaseNameConflict, CaseNotFound
from testops_catalog.test_cases.repository import (
    KEYSETS,
    CaseFilter,
    CaseRepository,
    DeletedFilter,
    sort_key,
)
from testops_catalog.test_cases.schemas import (
    CaseSuiteOut,
    StepIn,
    StepOut,
    SuiteLinkByName,
    SuiteLinkIn,
    TagById,
    TagIn,
    TestCaseOut,
    TestCasePatch,
    TestCaseWrite,
)
from testops_kit.database import utcnow
from testops_kit.errors import InvalidRequest, field_error
from testops_kit.etag import check_if_match
from testops_kit.logging import get_logger

log = get_logger(__name__)

_SCALAR_FIELDS = ("name", "preconditions", "description", "expected_result")
_ALL_FIELDS = frozenset({*_SCALAR_FIELDS, "steps", "tags", "suite_links"})


def to_out(case: TestCase) -> TestCaseOut:
    return TestCaseOut(
        id=case.id,
        name=case.name,
        preconditions=case.preconditions,
        description=case.description,
        expected_result=case.expected_result,
        version=case.version,
        created_at=case.created_at,
        updated_at=case.updated_at,
        is_deleted=case.is_deleted,
        deleted_at=case.deleted_at,
        steps=[
            StepOut(
                id=step.id,
                position=step.position,
                action=step.action,
                expected=step.expected,
                attachments=step.attachments,
            )
            for step in case.steps
        ],
        tags=[TagRef(id=tag.id, name=tag.name) for tag in case.tags],
        suites=[
            CaseSuiteOut(id=link.suite.id, name=link.suite.name, position=link.position)
            for link in case.suite_links
            if link.suite.deleted_at is None
        ],
    )


def number_steps(steps: Sequence[StepIn]) -> list[dict[str, Any]]:
    """Give every step its position: missing ones follow the highest given, in order.

    A position given twice is a 422 ``validation_error`` pointing at the later step.
    """
    seen: set[int] = set()
    errors = []
    for index, step in enumerate(steps):
        if step.position is None:
            continue
        if step.position in seen:
            errors.append(
                field_error(
                    ["body", "steps", index, "position"],
                    f"position {step.position} is used by an earlier step",
                )
            )
        seen.add(step.position)
    if errors:
        raise InvalidRequest("Step positions must be unique within a test case.", errors=errors)
    next_position = max(seen, default=0) + 1
    numbered = []
    for step in steps:
        position = step.position
        if position is None:
            position, next_position = next_position, next_position + 1
        numbered.append(
            {
                "position": position,
                "action": step.action,
                "expected": step.expected,
                "attachments": step.attachments,
            }
        )
    return numbered


def _name_conflict(name: str) -> CaseNameConflict:
    return CaseNameConflict(f"An active test case named {name!r} exists already.")


async def _ensure_name_free(repository: CaseRepository, name: str, *, case_id: int | None) -> None:
    other = await repository.get_active_by_name(name)
    if other is not None and other.id != case_id:
        raise _name_conflict(name)


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:  # a concurrent writer took the name between check and write
        raise _name_conflict(name) from None


async def _set_tags(
    session: AsyncSession, project: str, case_id: int, refs: Sequence[TagIn]
) -> None:
    names = [
        ref if isinstance(ref, str) else ref.name for ref in refs if not isinstance(ref, TagById)
    ]
    ids = [ref.id for ref in refs if isinstance(ref, TagById)]
    tag_ids = await tags.resolve_tags(session=session, project=project, names=names, ids=ids)
    await TagRepository(session, project=project).set_case_tags(case_id, tag_ids)


async def _set_suite_links(
    session: AsyncSession, project: str, case_id: int, refs: Sequence[SuiteLinkIn]
) -> None:
    """Link the case to the suites ``refs`` name, all of its project: a name finds or makes a
    root suite of the project, an id of another project's suite is unknown (skipped)."""
    existing = await suites.existing_suite_ids(
        session=session,
        project=project,
        suite_ids=[ref.suite_id for ref in refs if not isinstance(ref, SuiteLinkByName)],
    )
    links: dict[int, int | None] = {}
    for ref in refs:
        if isinstance(ref, SuiteLinkByName):
            suite_id = await suites.root_suite_by_name(
                session=session, project=project, name=ref.suite_name
            )
        elif ref.suite_id in existing:
            suite_id = ref.suite_id
        else:
            log.warning("suite_not_found_skipped", suite_id=ref.suite_id, test_case_id=case_id)
            continue
        links.setdefault(suite_id, ref.position)
    await suites.set_case_suites(
        session=session, project=project, case_id=case_id, links=list(links.items())
    )


async def _write_children(
    session: AsyncSession,
    project: str,
    case_id: int,
    data: TestCaseWrite | TestCasePatch,
    present: frozenset[str] | set[str],
    steps: list[dict[str, Any]] | None,
) -> None:
    if steps is not None:
        await CaseRepository(session, project=project).replace_steps(case_id, steps)
    if "tags" in present:
        await _set_tags(session, project, case_id, data.tags or [])
    if "suite_links" in present:
        await _set_suite_links(session, project, case_id, data.suite_links or [])


async def _reload(repository: CaseRepository, case_id: int) -> TestCaseOut:
    case = await repository.get(case_id, include_deleted=True)
    assert case is not None
    return to_out(case)


async def create_case(*, session: AsyncSession, project: str, data: TestCaseWrite) -> TestCaseOut:
    steps = number_steps(data.steps)
    repository = CaseRepository(session, project=project)
    await _ensure_name_free(repository, data.name, case_id=None)
    now = utcnow()
    case = TestCase(
        project=project,
        **{field: getattr(data, field) for field in _SCALAR_FIELDS},
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await _flush(session, data.name)
    await _write_children(session, project, case.id, data, _ALL_FIELDS, steps)
    log.info("test_case_created", test_case_id=case.id)
    return await _reload(repository, case.id)


async def get_case(*, session: AsyncSession, project: str, case_id: int) -> TestCaseOut:
    case = await CaseRepository(session, project=project).get(case_id)
    if case is None:
        raise CaseNotFound(f"Test case {case_id} does not exist.")
    return to_out(case)


async def _active_for_update(repository: CaseRepository, case_id: int) -> TestCase:
    case = await repository.get(case_id, for_update=True)
    if case is None:
        raise CaseNotFound(f"Test case {case_id} does not exist.")
    return case


async def update_case(
    *,
    session: AsyncSession,
    project: str,
    case_id: int,
    data: TestCaseWrite | TestCasePatch,
    if_match: str | None,
) -> TestCaseOut:
    """PUT (a :class:`TestCaseWrite`: everything replaced) or PATCH (only the fields sent)."""
    present = _ALL_FIELDS if isinstance(data, TestCaseWrite) else data.model_fields_set
    steps = number_steps(data.steps or []) if "steps" in present else None
    repository = CaseRepository(session, project=project)
    case = await _active_for_update(repository, case_id)
    check_if_match(if_match, case.version)
    if "name" in present and data.name is not None and data.name != case.name:
        await _ensure_name_free(repository, data.name, case_id=case.id)
    for field in _SCALAR_FIELDS:
        if field in present:
            setattr(case, field, getattr(data, field))
    case.version += 1
    case.updated_at = utcnow()
    await _flush(session, case.name)
    await _write_children(session, project, case.id, data, present, steps)
    log.info("test_case_updated", test_case_id=case.id, version=case.version)
    return await _reload(repository, case.id)


async def delete_case(
    *, session: AsyncSession, project: str, case_id: int, if_match: str | None
) -> None:
    case = await _active_for_update(CaseRepository(session, project=project), case_id)
    check_if_match(if_match, case.version)
    now = utcnow()
    case.deleted_at = now
    case.updated_at = now
    case.version += 1
    await session.flush()
    log.info("test_case_deleted", test_case_id=case.id)


async def restore_case(*, session: AsyncSession, project: str, case_id: int) -> TestCaseOut:
    repository = CaseRepository(session, project=project)
    case = await repository.get(case_id, include_deleted=True, for_update=True)
    if case is None:
        raise CaseNotFound(f"Test case {case_id} does not exist.")
    if case.deleted_at is not None:
        await _ensure_name_free(repository, case.name, case_id=case.id)
        case.deleted_at = None
        case.updated_at = utcnow()
        case.version += 1
        await _flush(session, case.name)
        log.info("test_case_restored", test_case_id=case.id)
    return await _reload(repository, case.id)


async def list_cases(
    *,
    session: AsyncSession,
    project: str,
    q: str | None,
    tag_names: Sequence[str],
    suite_id: int | None,
    deleted: DeletedFilter,
    updated_since: datetime | None,
    sort: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[TestCaseOut], str | None]:
    keyset = KEYSETS[sort]
    if cursor is not None:
        keyset.decode(cursor)  # refuse a bad cursor up front, whatever the filters find
    tag_ids: list[int] = []
    if tag_names:
        found = await TagRepository(session, project=project).ids_by_names(tag_names)
        if len(found) < len(set(tag_names)):
            return [], None  # a tag nobody carries: no case carries all of them
        tag_ids = list(found.values())
    filters = CaseFilter(
        q=q, tag_ids=tag_ids, suite_id=suite_id, deleted=deleted, updated_since=updated_since
    )
    rows = await CaseRepository(session, project=project).list_page(
        filters, sort=sort, cursor=cursor, limit=limit
    )
    page, next_cursor = keyset.page(rows, limit=limit, key=lambda case: sort_key(sort, case))
    return [to_out(case) for case in page], next_cursor
