"""Every query on tags."""

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
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _with_count(self) -> Select[Tag, int]:
        return select(Tag, case_count().label("case_count"))

    async def get_with_count(self, tag_id: int) -> tuple[Tag, int] | None:
        row = (await self.session.execute(self._with_count().where(Tag.id == tag_id))).first()
        return row

    async def get(self, tag_id: int) -> Tag | None:
        return await self.session.get(Tag, tag_id)

    async def get_by_name(self, name: str) -> Tag | None:
        return await self.session.scalar(select(Tag).where(Tag.name == name))

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
        return set((await self.session.scalars(select(Tag.id).where(Tag.id.in_(wanted)))).all())

    async def ensure_names(self, names: Iterable[str]) -> dict[str, int]:
        """The ids of tags named ``names``, creating the missing ones (race-free)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        insert = insert_ignoring_conflicts(self.session, Tag, index_elements=["name"])
        await self.session.execute(insert, [{"name": name} for name in wanted])
        rows = await self.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))
        return {name: tag_id for name, tag_id in rows.all()}

    async def ids_by_names(self, names: Iterable[str]) -> dict[str, int]:
        wanted = set(names)
        rows = await self.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))
        return {name: tag_id for name, tag_id in rows.all()}

    async def add(self, tag: Tag) -> Tag:
        self.session.add(tag)
        await self.session.flush()
        return tag

    async def delete(self, tag: Tag) -> None:
        await self.session.execute(delete(case_tags).where(case_tags.c.tag_id == tag.id))
        await self.session.delete(tag)
        await self.session.flush()

    async def set_case_tags(self, case_id: int, tag_ids: Iterable[int]) -> None:
        await self.session.execute(delete(case_tags).where(case_tags.c.test_case_id == case_id))
        rows = [{"test_case_id": case_id, "tag_id": tag_id} for tag_id in dict.fromkeys(tag_ids)]
        if rows:
            await self.session.execute(case_tags.insert(), rows)
