"""Tag rules: names are unique in a project; a tag named on a case is created when missing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import Tag
from testops_catalog.tags.errors import TagNameConflict, TagNotFound
from testops_catalog.tags.repository import BY_NAME, TagRepository
from testops_catalog.tags.schemas import TagCreate, TagOut, TagUpdate
from testops_kit.logging import get_logger

log = get_logger(__name__)


def _out(tag: Tag, case_count: int) -> TagOut:
    return TagOut(id=tag.id, name=tag.name, case_count=case_count)


def _conflict(name: str) -> TagNameConflict:
    return TagNameConflict(f"A tag named {name!r} exists already in this project.")


async def list_tags(
    *, session: AsyncSession, project: str, q: str | None, cursor: str | None, limit: int
) -> tuple[list[TagOut], str | None]:
    rows = await TagRepository(session, project=project).list_page(q=q, cursor=cursor, limit=limit)
    page, next_cursor = BY_NAME.page(rows, limit=limit, key=lambda row: (row[0].name, row[0].id))
    return [_out(tag, count) for tag, count in page], next_cursor


async def get_tag(*, session: AsyncSession, project: str, tag_id: int) -> TagOut:
    found = await TagRepository(session, project=project).get_with_count(tag_id)
    if found is None:
        raise TagNotFound(f"Tag {tag_id} does not exist.")
    return _out(*found)


async def create_tag(*, session: AsyncSession, project: str, data: TagCreate) -> TagOut:
    repository = TagRepository(session, project=project)
    if await repository.get_by_name(data.name) is not None:
        raise _conflict(data.name)
    try:
        tag = await repository.add(data.name)
    except IntegrityError:
        raise _conflict(data.name) from None
    log.info("tag_created", tag_id=tag.id)
    return _out(tag, 0)


async def rename_tag(
    *, session: AsyncSession, project: str, tag_id: int, data: TagUpdate
) -> TagOut:
    repository = TagRepository(session, project=project)
    tag = await repository.get(tag_id)
    if tag is None:
        raise TagNotFound(f"Tag {tag_id} does not exist.")
    other = await repository.get_by_name(data.name)
    if other is not None and other.id != tag.id:
        raise _conflict(data.name)
    tag.name = data.name
    try:
        await session.flush()
    except IntegrityError:
        raise _conflict(data.name) from None
    return await get_tag(session=session, project=project, tag_id=tag_id)


async def delete_tag(*, session: AsyncSession, project: str, tag_id: int) -> None:
    repository = TagRepository(session, project=project)
    tag = await repository.get(tag_id)
    if tag is None:
        raise TagNotFound(f"Tag {tag_id} does not exist.")
    await repository.delete(tag)
    log.info("tag_deleted", tag_id=tag_id)


async def resolve_tags(
    *, session: AsyncSession, project: str, names: Sequence[str], ids: Sequence[int]
) -> list[int]:
    """The ids of the tags a case of ``project`` names: names found or created in the project,
    ids kept when they are the project's tags.

    An id that does not exist (or is another project's) is skipped with a warning (the seed's
    behaviour), not refused.
    """
    repository = TagRepository(session, project=project)
    by_name = await repository.ensure_names(names)
    existing = await repository.existing_ids(ids)
    for tag_id in ids:
        if tag_id not in existing:
            log.warning("tag_not_found_skipped", tag_id=tag_id)
    resolved = [by_name[name] for name in names] + [i for i in ids if i in existing]
    return list(dict.fromkeys(resolved))
