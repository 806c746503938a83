"""Suite rules: a tree without cycles within a project, names unique among siblings, ordered
membership of the project's cases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import Suite, SuiteCase
from testops_catalog.suites.errors import (
    LinkedCaseNotFound,
    ParentSuiteNotFound,
    SuiteCaseExists,
    SuiteCaseNotFound,
    SuiteCycle,
    SuiteNameConflict,
    SuiteNotFound,
)
from testops_catalog.suites.repository import BY_NAME, BY_POSITION, SuiteRepository
from testops_catalog.suites.schemas import (
    SuiteCaseAdd,
    SuiteCaseOrder,
    SuiteCaseOut,
    SuiteCreate,
    SuiteOut,
    SuiteTree,
    SuiteUpdate,
)
from testops_kit.database import utcnow
from testops_kit.errors import InvalidRequest, field_error
from testops_kit.etag import check_if_match
from testops_kit.logging import get_logger

log = get_logger(__name__)


def _out(suite: Suite, case_count: int) -> SuiteOut:
    return SuiteOut(
        id=suite.id,
        name=suite.name,
        description=suite.description,
        parent_id=suite.parent_id,
        version=suite.version,
        created_at=suite.created_at,
        updated_at=suite.updated_at,
        is_deleted=suite.is_deleted,
        case_count=case_count,
    )


def _link_out(link: SuiteCase, name: str) -> SuiteCaseOut:
    return SuiteCaseOut(
        suite_id=link.suite_id, test_case_id=link.test_case_id, position=link.position, name=name
    )


def _name_conflict(name: str, parent_id: int | None) -> SuiteNameConflict:
    where = "at the root" if parent_id is None else f"under suite {parent_id}"
    return SuiteNameConflict(f"An active suite named {name!r} exists {where}.")


async def _active(repository: SuiteRepository, suite_id: int, *, for_update: bool = False) -> Suite:
    suite = await repository.get_active(suite_id, for_update=for_update)
    if suite is None:
        raise SuiteNotFound(f"Suite {suite_id} does not exist.")
    return suite


async def _check_parent(repository: SuiteRepository, parent_id: int | None) -> None:
    if parent_id is not None and await repository.get_active(parent_id) is None:
        raise ParentSuiteNotFound(
            f"Parent suite {parent_id} does not exist.",
            errors=[field_error(["body", "parent_id"], f"suite {parent_id} does not exist")],
        )


async def get_suite(*, session: AsyncSession, project: str, suite_id: int) -> SuiteOut:
    found = await SuiteRepository(session, project=project).get_active_with_count(suite_id)
    if found is None:
        raise SuiteNotFound(f"Suite {suite_id} does not exist.")
    return _out(*found)


async def list_suites(
    *,
    session: AsyncSession,
    project: str,
    parent_id: int | None,
    root: bool,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SuiteOut], str | None]:
    rows = await SuiteRepository(session, project=project).list_page(
        parent_id=parent_id, root=root, q=q, cursor=cursor, limit=limit
    )
    page, next_cursor = BY_NAME.page(rows, limit=limit, key=lambda row: (row[0].name, row[0].id))
    return [_out(suite, count) for suite, count in page], next_cursor


async def create_suite(*, session: AsyncSession, project: str, data: SuiteCreate) -> SuiteOut:
    repository = SuiteRepository(session, project=project)
    await _check_parent(repository, data.parent_id)
    if await repository.active_sibling_names(data.parent_id, [data.name]):
        raise _name_conflict(data.name, data.parent_id)
    try:
        now = utcnow()
        suite = await repository.add(
            Suite(
                project=project,
                name=data.name,
                description=data.description,
                parent_id=data.parent_id,
                created_at=now,
                updated_at=now,
            )
        )
    except IntegrityError:
        raise _name_conflict(data.name, data.parent_id) from None
    log.info("suite_created", suite_id=suite.id)
    return _out(suite, 0)


async def root_suite_by_name(*, session: AsyncSession, project: str, name: str) -> int:
    """The id of the active root suite named ``name``, created when missing."""
    repository = SuiteRepository(session, project=project)
    suite = await repository.get_active_root_by_name(name)
    if suite is not None:
        return suite.id
    now = utcnow()
    try:
        async with session.begin_nested():
            suite = await repository.add(
                Suite(project=project, name=name, created_at=now, updated_at=now)
            )
    except IntegrityError:  # a concurrent request created it first: use theirs
        suite = await repository.get_active_root_by_name(name)
        if suite is None:
            raise
        return suite.id
    log.info("suite_created", suite_id=suite.id)
    return suite.id


async def update_suite(
    *, session: AsyncSession, project: str, suite_id: int, data: SuiteUpdate, if_match: str | None
) -> SuiteOut:
    repository = SuiteRepository(session, project=project)
    suite = await _active(repository, suite_id, for_update=True)
    check_if_match(if_match, suite.version)
    fields = data.model_fields_set
    parent_id = data.parent_id if "parent_id" in fields else suite.parent_id
    name = data.name if "name" in fields and data.name is not None else suite.name
    if "parent_id" in fields and parent_id != suite.parent_id:
        await _check_parent(repository, parent_id)
        if parent_id is not None and suite.id in await repository.ancestor_ids(parent_id):
            raise SuiteCycle(
                f"Suite {suite.id} cannot move under suite {parent_id}: "
                f"{parent_id} is {'itself' if parent_id == suite.id else 'one of its descendants'}."
            )
    if (name, parent_id) != (suite.name, suite.parent_id) and await repository.active_sibling_names(
        parent_id, [name], exclude_id=suite.id
    ):
        raise _name_conflict(name, parent_id)
    suite.name, suite.parent_id = name, parent_id
    if "description" in fields:
        suite.description = data.description
    suite.version += 1
    suite.updated_at = utcnow()
    try:
        await session.flush()
    except IntegrityError:
        raise _name_conflict(name, parent_id) from None
    return await get_suite(session=session, project=project, suite_id=suite.id)


async def delete_suite(
    *, session: AsyncSession, project: str, suite_id: int, if_match: str | None
) -> None:
    """Soft-delete a suite: its children become root suites and its case links go."""
    repository = SuiteRepository(session, project=project)
    suite = await _active(repository, suite_id, for_update=True)
    check_if_match(if_match, suite.version)
    children = await repository.active_children(suite.id)
    clashes = await repository.active_sibling_names(
        None, [child.name for child in children], exclude_id=suite.id
    )
    if clashes:
        raise SuiteNameConflict(
            f"Suite {suite.id} cannot be deleted: its children {sorted(clashes)} would become "
            "root suites, and root suites with those names exist. Rename or move them first."
        )
    now = utcnow()
    suite.deleted_at = now
    suite.updated_at = now
    suite.version += 1
    await session.flush()
    await repository.move_children_to_root(suite.id)
    await repository.delete_links_of_suite(suite.id)
    log.info("suite_deleted", suite_id=suite.id, children_moved=len(children))


async def suite_tree(*, session: AsyncSession, project: str, suite_id: int) -> SuiteTree:
    rows = await SuiteRepository(session, project=project).subtree(suite_id)
    if not rows:
        raise SuiteNotFound(f"Suite {suite_id} does not exist.")
    nodes = {suite.id: SuiteTree(**dict(_out(suite, count)), children=[]) for suite, count in rows}
    for suite, _ in rows:  # rows come by name, so children are appended by name
        if suite.id != suite_id and suite.parent_id in nodes:
            nodes[suite.parent_id].children.append(nodes[suite.id])
    return nodes[suite_id]


# membership


async def link_case(
    *, session: AsyncSession, project: str, suite_id: int, case_id: int, position: int | None
) -> int:
    """Put a case into a suite at ``position`` (default: last); later members move down."""
    repository = SuiteRepository(session, project=project)
    if position is None:
        position = await repository.last_position(suite_id) + 1
    elif await repository.position_taken(suite_id, position):
        await repository.shift_from(suite_id, position)
    await repository.add_link(suite_id, case_id, position)
    return position


async def set_case_suites(
    *, session: AsyncSession, project: str, case_id: int, links: Sequence[tuple[int, int | None]]
) -> None:
    """Make ``links`` (suite id, position or None) the suites of a case; the case and the
    suites are the project's (the caller found them in it).

    A suite the case is in already keeps its place unless another position is given.
    """
    repository = SuiteRepository(session, project=project)
    wanted = dict(links)
    await repository.lock(wanted)
    current = {link.suite_id: link for link in await repository.links_of_case(case_id)}
    for suite_id in current.keys() - wanted.keys():
        await repository.delete_link(suite_id, case_id)
    for suite_id, position in wanted.items():
        existing = current.get(suite_id)
        if existing is not None and position in (None, existing.position):
            continue
        if existing is not None:
            await repository.delete_link(suite_id, case_id)
        await link_case(
            session=session, project=project, suite_id=suite_id, case_id=case_id, position=position
        )


async def existing_suite_ids(
    *, session: AsyncSession, project: str, suite_ids: Sequence[int]
) -> set[int]:
    """Which of ``suite_ids`` name active suites of the project (another project's are as
    unknown as missing ones)."""
    return await SuiteRepository(session, project=project).active_ids(suite_ids)


async def list_suite_cases(
    *, session: AsyncSession, project: str, suite_id: int, cursor: str | None, limit: int
) -> tuple[list[SuiteCaseOut], str | None]:
    repository = SuiteRepository(session, project=project)
    await _active(repository, suite_id)
    rows = await repository.list_links(suite_id, cursor=cursor, limit=limit)
    page, next_cursor = BY_POSITION.page(
        rows, limit=limit, key=lambda row: (row[0].position, row[0].test_case_id)
    )
    return [_link_out(link, name) for link, name in page], next_cursor


async def get_suite_case(
    *, session: AsyncSession, project: str, suite_id: int, case_id: int
) -> SuiteCaseOut:
    repository = SuiteRepository(session, project=project)
    await _active(repository, suite_id)
    found = await repository.get_link_with_name(suite_id, case_id)
    if found is None:
        raise SuiteCaseNotFound(f"Test case {case_id} is not in suite {suite_id}.")
    return _link_out(*found)


async def add_suite_case(
    *, session: AsyncSession, project: str, suite_id: int, data: SuiteCaseAdd
) -> SuiteCaseOut:
    repository = SuiteRepository(session, project=project)
    await _active(repository, suite_id, for_update=True)
    if not await repository.active_case_ids([data.test_case_id]):
        raise LinkedCaseNotFound(
            f"Test case {data.test_case_id} does not exist.",
            errors=[field_error(["body", "test_case_id"], "no active test case has this id")],
        )
    if await repository.get_link(suite_id, data.test_case_id) is not None:
        raise SuiteCaseExists(
            f"Test case {data.test_case_id} is in suite {suite_id} already; "
            "use PUT /suites/{id}/cases to reorder."
        )
    await link_case(
        session=session,
        project=project,
        suite_id=suite_id,
        case_id=data.test_case_id,
        position=data.position,
    )
    return await get_suite_case(
        session=session, project=project, suite_id=suite_id, case_id=data.test_case_id
    )


async def set_suite_cases(
    *, session: AsyncSession, project: str, suite_id: int, data: SuiteCaseOrder
) -> list[SuiteCaseOut]:
    """Make ``data.test_case_ids`` the suite's members, at positions 1, 2, 3, …"""
    repository = SuiteRepository(session, project=project)
    await _active(repository, suite_id, for_update=True)
    ids = data.test_case_ids
    first_index: dict[int, int] = {}
    duplicates = []
    for index, case_id in enumerate(ids):
        if case_id in first_index:
            duplicates.append(field_error(["body", "test_case_ids", index], "listed twice"))
        first_index.setdefault(case_id, index)
    if duplicates:
        raise InvalidRequest("Each test case can be listed once.", errors=duplicates)
    active = await repository.active_case_ids(ids)
    missing = [
        field_error(["body", "test_case_ids", index], f"no active test case has id {case_id}")
        for index, case_id in enumerate(ids)
        if case_id not in active
    ]
    if missing:
        raise LinkedCaseNotFound("Every id must name an active test case.", errors=missing)
    await repository.delete_links_of_suite(suite_id)
    await repository.insert_links(suite_id, ids)
    return [_link_out(link, name) for link, name in await repository.all_links(suite_id)]


async def remove_suite_case(
    *, session: AsyncSession, project: str, suite_id: int, case_id: int
) -> None:
    repository = SuiteRepository(session, project=project)
    await _active(repository, suite_id, for_update=True)
    if await repository.get_link(suite_id, case_id) is None:
        raise SuiteCaseNotFound(f"Test case {case_id} is not in suite {suite_id}.")
    await repository.delete_link(suite_id, case_id)
