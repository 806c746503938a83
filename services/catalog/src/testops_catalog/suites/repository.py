"""Every query on suites and suite membership, within one project."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ScalarSelect, Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import Suite, SuiteCase, TestCase
from testops_catalog.names import like_pattern
from testops_kit.database import utcnow
from testops_kit.pagination import Keyset

BY_NAME = Keyset("name", Suite.name, Suite.id)
BY_POSITION = Keyset("position", SuiteCase.position, SuiteCase.test_case_id)


def case_count() -> ScalarSelect[int]:
    """The number of active cases linked to the suite of the outer query."""
    return (
        select(func.count())
        .select_from(SuiteCase)
        .join(TestCase, TestCase.id == SuiteCase.test_case_id)
        .where(SuiteCase.suite_id == Suite.id, TestCase.deleted_at.is_(None))
        .scalar_subquery()
    )


class SuiteRepository:
    """The suites of ``project`` and their members: a suite or case of another project is not
    there. Membership is reached through a suite found here, and only links a case found here."""

    def __init__(self, session: AsyncSession, *, project: str) -> None:
        self.session = session
        self.project = project

    # suites

    def _active(self) -> Select[Suite]:
        return select(Suite).where(Suite.project == self.project, Suite.deleted_at.is_(None))

    def _with_count(self) -> Select[Suite, int]:
        return select(Suite, case_count().label("case_count")).where(
            Suite.project == self.project, Suite.deleted_at.is_(None)
        )

    async def get_active(self, suite_id: int, *, for_update: bool = False) -> Suite | None:
        stmt = self._active().where(Suite.id == suite_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_active_with_count(self, suite_id: int) -> tuple[Suite, int] | None:
        row = (await self.session.execute(self._with_count().where(Suite.id == suite_id))).first()
        return row

    async def list_page(
        self,
        *,
        parent_id: int | None,
        root: bool,
        q: str | None,
        cursor: str | None,
        limit: int,
    ) -> Sequence[tuple[Suite, int]]:
        stmt = self._with_count()
        if root:
            stmt = stmt.where(Suite.parent_id.is_(None))
        if parent_id is not None:
            stmt = stmt.where(Suite.parent_id == parent_id)
        if q:
            stmt = stmt.where(func.lower(Suite.name).like(like_pattern(q), escape="\\"))
        stmt = BY_NAME.paginate(stmt, cursor=cursor, limit=limit)
        return (await self.session.execute(stmt)).all()

    async def lock(self, suite_ids: Iterable[int]) -> None:
        """Hold these suites' rows until commit, in id order so that lockers never deadlock.

        Positions in a suite are computed from its current members: two requests placing cases
        in one suite at once must take turns, or both compute the same position. (SQLite
        writers are serialised already; FOR UPDATE is dropped there.)
        """
        ids = sorted(set(suite_ids))
        if ids:
            await self.session.execute(
                select(Suite.id)
                .where(Suite.id.in_(ids), Suite.project == self.project)
                .order_by(Suite.id)
                .with_for_update()
            )

    async def get_active_root_by_name(self, name: str) -> Suite | None:
        return await self.session.scalar(
            self._active().where(Suite.parent_id.is_(None), Suite.name == name)
        )

    async def active_sibling_names(
        self, parent_id: int | None, names: Iterable[str], *, exclude_id: int | None = None
    ) -> set[str]:
        """Which of ``names`` active children of ``parent_id`` (None: roots) already carry."""
        wanted = set(names)
        if not wanted:
            return set()
        parent = Suite.parent_id.is_(None) if parent_id is None else Suite.parent_id == parent_id
        stmt = select(Suite.name).where(
            Suite.project == self.project,
            parent,
            Suite.name.in_(wanted),
            Suite.deleted_at.is_(None),
        )
        if exclude_id is not None:
            stmt = stmt.where(Suite.id != exclude_id)
        return set((await self.session.scalars(stmt)).all())

    async def ancestor_ids(self, suite_id: int) -> list[int]:
        """``suite_id`` and every suite above it, nearest first."""
        up = (
            select(Suite.id, Suite.parent_id)
            .where(Suite.id == suite_id, Suite.project == self.project)
            .cte(recursive=True)
        )
        up = up.union_all(
            select(Suite.id, Suite.parent_id)
            .join(up, Suite.id == up.c.parent_id)
            .where(Suite.project == self.project)
        )
        return list((await self.session.scalars(select(up.c.id))).all())

    async def subtree(self, suite_id: int) -> Sequence[tuple[Suite, int]]:
        """The active suite ``suite_id`` and its active descendants, with case counts."""
        down = (
            select(Suite.id)
            .where(Suite.id == suite_id, Suite.project == self.project, Suite.deleted_at.is_(None))
            .cte(recursive=True)
        )
        down = down.union_all(
            select(Suite.id)
            .join(down, Suite.parent_id == down.c.id)
            .where(Suite.project == self.project, Suite.deleted_at.is_(None))
        )
        stmt = (
            self._with_count().where(Suite.id.in_(select(down.c.id))).order_by(Suite.name, Suite.id)
        )
        return (await self.session.execute(stmt)).all()

    async def active_children(self, suite_id: int) -> Sequence[Suite]:
        return (await self.session.scalars(self._active().where(Suite.parent_id == suite_id))).all()

    async def add(self, suite: Suite) -> Suite:
        """Insert a new suite of the project."""
        assert suite.project == self.project
        self.session.add(suite)
        await self.session.flush()
        return suite

    async def move_children_to_root(self, suite_id: int) -> None:
        await self.session.execute(
            update(Suite)
            .where(
                Suite.parent_id == suite_id,
                Suite.project == self.project,
                Suite.deleted_at.is_(None),
            )
            .values(parent_id=None, version=Suite.version + 1, updated_at=utcnow())
        )

    # membership

    async def get_link(self, suite_id: int, case_id: int) -> SuiteCase | None:
        return await self.session.get(SuiteCase, (suite_id, case_id))

    async def get_link_with_name(self, suite_id: int, case_id: int) -> tuple[SuiteCase, str] | None:
        row = (
            await self.session.execute(
                self._links().where(
                    SuiteCase.suite_id == suite_id, SuiteCase.test_case_id == case_id
                )
            )
        ).first()
        return (row[0], row[1]) if row else None

    def _links(self) -> Select[SuiteCase, str]:
        return (
            select(SuiteCase, TestCase.name)
            .join(TestCase, TestCase.id == SuiteCase.test_case_id)
            .where(TestCase.project == self.project, TestCase.deleted_at.is_(None))
        )

    async def list_links(
        self, suite_id: int, *, cursor: str | None, limit: int
    ) -> Sequence[tuple[SuiteCase, str]]:
        stmt = BY_POSITION.paginate(
            self._links().where(SuiteCase.suite_id == suite_id), cursor=cursor, limit=limit
        )
        return (await self.session.execute(stmt)).all()

    async def all_links(self, suite_id: int) -> Sequence[tuple[SuiteCase, str]]:
        stmt = self._links().where(SuiteCase.suite_id == suite_id).order_by(*BY_POSITION.order_by())
        return (await self.session.execute(stmt)).all()

    async def links_of_case(self, case_id: int) -> Sequence[SuiteCase]:
        return (
            await self.session.scalars(select(SuiteCase).where(SuiteCase.test_case_id == case_id))
        ).all()

    async def last_position(self, suite_id: int) -> int:
        value = await self.session.scalar(
            select(func.max(SuiteCase.position)).where(SuiteCase.suite_id == suite_id)
        )
        return int(value or 0)

    async def position_taken(self, suite_id: int, position: int) -> bool:
        found = await self.session.scalar(
            select(SuiteCase.test_case_id)
            .where(SuiteCase.suite_id == suite_id, SuiteCase.position == position)
            .limit(1)
        )
        return found is not None

    async def shift_from(self, suite_id: int, position: int) -> None:
        """Move every member at ``position`` or later one place down."""
        await self.session.execute(
            update(SuiteCase)
            .where(SuiteCase.suite_id == suite_id, SuiteCase.position >= position)
            .values(position=SuiteCase.position + 1)
        )

    async def add_link(self, suite_id: int, case_id: int, position: int) -> None:
        self.session.add(SuiteCase(suite_id=suite_id, test_case_id=case_id, position=position))
        await self.session.flush()

    async def delete_link(self, suite_id: int, case_id: int) -> None:
        await self.session.execute(
            delete(SuiteCase).where(
                SuiteCase.suite_id == suite_id, SuiteCase.test_case_id == case_id
            )
        )

    async def delete_links_of_suite(self, suite_id: int) -> None:
        await self.session.execute(delete(SuiteCase).where(SuiteCase.suite_id == suite_id))

    async def insert_links(self, suite_id: int, case_ids: Sequence[int]) -> None:
        if case_ids:
            await self.session.execute(
                insert(SuiteCase),
                [
                    {
                        "suite_id": suite_id,
                        "test_case_id": case_id,
                        "position": index,
                        "created_at": utcnow(),
                    }
                    for index, case_id in enumerate(case_ids, start=1)
                ],
            )

    async def active_ids(self, suite_ids: Iterable[int]) -> set[int]:
        wanted = set(suite_ids)
        if not wanted:
            return set()
        stmt = select(Suite.id).where(
            Suite.id.in_(wanted), Suite.project == self.project, Suite.deleted_at.is_(None)
        )
        return set((await self.session.scalars(stmt)).all())

    async def active_case_ids(self, case_ids: Iterable[int]) -> set[int]:
        wanted = set(case_ids)
        if not wanted:
            return set()
        stmt = select(TestCase.id).where(
            TestCase.id.in_(wanted),
            TestCase.project == self.project,
            TestCase.deleted_at.is_(None),
        )
        return set((await self.session.scalars(stmt)).all())
