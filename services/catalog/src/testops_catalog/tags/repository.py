"""Every query on tags, within one project."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ScalarSelect, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import Tag, TestCase, case_tags
from testops_catalog.names import like_pattern
from testops_kit.dialects import insert_ignoring_conflicts
from testops_kit.pagination import Keyset

BY_NAME = Keyset("name", Tag.name, Tag.id)


def case_count() -> ScalarSelect[int]:
    """The number of active cases carrying the tag of the outer query."""
    return (
        select(func.count())
        .select_from(case_tags)
        .join(TestCase, TestCase.id == case_tags.c.test_case_id)
        .where(case_tags.c.tag_id == Tag.id, TestCase.deleted_at.is_(None))
        .scalar_subquery()
    )


class TagRepository:
    """The tags of ``project``: a tag of another project is not there."""

    def __init__(self, session: AsyncSession, *, project: str) -> None:
        self.session = session
        self.project = project

    def _with_count(self) -> Select[Tag, int]:
        return select(Tag, case_count().label("case_count")).where(Tag.project == self.project)

    async def get_with_count(self, tag_id: int) -> tuple[Tag, int] | None:
        row = (await self.session.execute(self._with_count().where(Tag.id == tag_id))).first()
        return row

    async def get(self, tag_id: int) -> Tag | None:
        return await self.session.scalar(
            select(Tag).where(Tag.id == tag_id, Tag.project == self.project)
        )

    async def get_by_name(self, name: str) -> Tag | None:
        return await self.session.scalar(
            select(Tag).where(Tag.project == self.project, Tag.name == name)
        )

    async def list_page(
        self, *, q: str | None, cursor: str | None, limit: int
    ) -> Sequence[tuple[Tag, int]]:
        stmt = self._with_count()
        if q:
            stmt = stmt.where(func.lower(Tag.name).like(like_pattern(q), escape="\\"))
        stmt = BY_NAME.paginate(stmt, cursor=cursor, limit=limit)
        return (await self.session.execute(stmt)).all()

    async def existing_ids(self, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        if not wanted:
            return set()
        stmt = select(Tag.id).where(Tag.id.in_(wanted), Tag.project == self.project)
        return set((await self.session.scalars(stmt)).all())

    async def ensure_names(self, names: Iterable[str]) -> dict[str, int]:
        """The ids of tags named ``names``, creating the missing ones (race-free)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        insert = insert_ignoring_conflicts(self.session, Tag, index_elements=["project", "name"])
        await self.session.execute(
            insert, [{"project": self.project, "name": name} for name in wanted]
        )
        return await self.ids_by_names(wanted)

    async def ids_by_names(self, names: Iterable[str]) -> dict[str, int]:
        wanted = set(names)
        rows = await self.session.execute(
            select(Tag.name, Tag.id).where(Tag.project == self.project, Tag.name.in_(wanted))
        )
        return {name: tag_id for name, tag_id in rows.all()}

    async def add(self, name: str) -> Tag:
        tag = Tag(project=self.project, name=name)
        self.session.add(tag)
        await self.session.flush()
        return tag

    async def delete(self, tag: Tag) -> None:
        """Delete a tag of the project (found with :meth:`get`) and unlink it."""
        await self.session.execute(delete(case_tags).where(case_tags.c.tag_id == tag.id))
        await self.session.delete(tag)
        await self.session.flush()

    async def set_case_tags(self, case_id: int, tag_ids: Iterable[int]) -> None:
        """Make ``tag_ids`` the tags of a case; both the case and the tags are the project's
        (the callers found them in it)."""
        await self.session.execute(delete(case_tags).where(case_tags.c.test_case_id == case_id))
        rows = [{"test_case_id": case_id, "tag_id": tag_id} for tag_id in dict.fromkeys(tag_ids)]
        if rows:
            await self.session.execute(case_tags.insert(), rows)
