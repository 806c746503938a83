"""Every query on test cases and their steps, within one project."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, delete, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from testops_catalog.models import Step, SuiteCase, TestCase, case_tags
from testops_catalog.names import like_pattern
from testops_kit.dialects import plan_each_statement_for_its_values
from testops_kit.pagination import Keyset

DeletedFilter = Literal["exclude", "only", "include"]
Sort = Literal["id", "-id", "name", "-updated_at"]

KEYSETS: dict[str, Keyset] = {
    "id": Keyset("id", TestCase.id),
    "-id": Keyset("-id", TestCase.id, descending=True),
    "name": Keyset("name", TestCase.name, TestCase.id),
    "-updated_at": Keyset("-updated_at", TestCase.updated_at, TestCase.id, descending=True),
}


def sort_key(sort: str, case: TestCase) -> tuple[Any, ...]:
    """The values of ``case`` that the ordering ``sort`` pages by."""
    return {
        "id": (case.id,),
        "-id": (case.id,),
        "name": (case.name, case.id),
        "-updated_at": (case.updated_at, case.id),
    }[sort]


@dataclass(frozen=True)
class CaseFilter:
    q: str | None = None
    tag_ids: Sequence[int] = ()
    suite_id: int | None = None
    deleted: DeletedFilter = "exclude"
    updated_since: datetime | None = None


def _with_children(stmt: Select[TestCase]) -> Select[TestCase]:
    return stmt.options(
        selectinload(TestCase.steps),
        selectinload(TestCase.tags),
        selectinload(TestCase.suite_links).joinedload(SuiteCase.suite),
    )


class CaseRepository:
    """The test cases of ``project``: a case of another project is not there."""

    def __init__(self, session: AsyncSession, *, project: str) -> None:
        self.session = session
        self.project = project

    async def get(
        self, case_id: int, *, include_deleted: bool = False, for_update: bool = False
    ) -> TestCase | None:
        """A case with its steps, tags and suite links loaded fresh from the database."""
        stmt = select(TestCase).where(TestCase.id == case_id, TestCase.project == self.project)
        if not include_deleted:
            stmt = stmt.where(TestCase.deleted_at.is_(None))
        if for_update:
            stmt = stmt.with_for_update(of=TestCase)
        stmt = _with_children(stmt).execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def is_active(self, case_id: int) -> bool:
        """Whether the case exists and is not soft-deleted (nothing of it is loaded)."""
        found = await self.session.scalar(
            select(TestCase.id).where(
                TestCase.id == case_id,
                TestCase.project == self.project,
                TestCase.deleted_at.is_(None),
            )
        )
        return found is not None

    async def get_active_by_name(self, name: str) -> TestCase | None:
        return await self.session.scalar(
            select(TestCase).where(
                TestCase.project == self.project,
                TestCase.name == name,
                TestCase.deleted_at.is_(None),
            )
        )

    async def list_page(
        self, filters: CaseFilter, *, sort: str, cursor: str | None, limit: int
    ) -> Sequence[TestCase]:
        stmt = select(TestCase).where(TestCase.project == self.project)
        if filters.deleted == "exclude":
            stmt = stmt.where(TestCase.deleted_at.is_(None))
        elif filters.deleted == "only":
            stmt = stmt.where(TestCase.deleted_at.is_not(None))
        if filters.q:
            await plan_each_statement_for_its_values(self.session)
            pattern = like_pattern(filters.q)
            stmt = stmt.where(
                or_(
                    func.lower(TestCase.name).like(pattern, escape="\\"),
                    func.lower(TestCase.description).like(pattern, escape="\\"),
                )
            )
        for tag_id in filters.tag_ids:
            stmt = stmt.where(
                exists().where(
                    case_tags.c.test_case_id == TestCase.id, case_tags.c.tag_id == tag_id
                )
            )
        if filters.suite_id is not None:
            stmt = stmt.where(
                exists().where(
                    SuiteCase.test_case_id == TestCase.id, SuiteCase.suite_id == filters.suite_id
                )
            )
        if filters.updated_since is not None:
            stmt = stmt.where(TestCase.updated_at >= filters.updated_since)
        stmt = KEYSETS[sort].paginate(stmt, cursor=cursor, limit=limit)
        return (await self.session.scalars(_with_children(stmt))).all()

    async def add(self, case: TestCase) -> TestCase:
        """Insert a new case of the project."""
        assert case.project == self.project
        self.session.add(case)
        await self.session.flush()
        return case

    async def replace_steps(self, case_id: int, steps: Sequence[dict[str, Any]]) -> None:
        """Make ``steps`` (position, action, expected, attachments) the steps of a case of the
        project (the caller found it in it)."""
        await self.session.execute(delete(Step).where(Step.test_case_id == case_id))
        if steps:
            await self.session.execute(
                insert(Step), [{"test_case_id": case_id, **step} for step in steps]
            )
