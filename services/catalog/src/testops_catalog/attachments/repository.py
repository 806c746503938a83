"""Every query on case attachments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from testops_catalog.models import CaseAttachment
from testops_kit.pagination import Keyset

BY_ID = Keyset("id", CaseAttachment.id)


class AttachmentRepository:
    """Case attachments by their case's id: callers have found the case in the request's
    project (the start-up sweep alone looks at every attachment's storage key)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: int, attachment_id: int) -> CaseAttachment | None:
        return await self.session.scalar(
            select(CaseAttachment).where(
                CaseAttachment.id == attachment_id, CaseAttachment.test_case_id == case_id
            )
        )

    async def list_page(
        self, case_id: int, *, cursor: str | None, limit: int
    ) -> Sequence[CaseAttachment]:
        stmt = BY_ID.paginate(
            select(CaseAttachment).where(CaseAttachment.test_case_id == case_id),
            cursor=cursor,
            limit=limit,
        )
        return (await self.session.scalars(stmt)).all()

    async def add(self, attachment: CaseAttachment) -> CaseAttachment:
        self.session.add(attachment)
        await self.session.flush()
        return attachment

    async def delete(self, case_id: int, attachment_id: int) -> str | None:
        """Delete the row in one statement and return its storage key (None: no such row).

        One statement, so two concurrent deletes cannot both think they removed it.
        """
        deleted: str | None = await self.session.scalar(
            delete(CaseAttachment)
            .where(CaseAttachment.id == attachment_id, CaseAttachment.test_case_id == case_id)
            .returning(CaseAttachment.storage_key)
        )
        return deleted

    async def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` belong to an attachment."""
        found = await self.session.scalars(
            select(CaseAttachment.storage_key).where(CaseAttachment.storage_key.in_(keys))
        )
        return set(found)
