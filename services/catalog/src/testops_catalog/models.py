"""The catalog's tables: test cases with ordered steps, tags, and suites with ordered members.

Every test case, suite and tag belongs to one project (``project``, its key): names are unique
per project, and the indexes that serve a listing are led by it. What hangs off a case or a suite
(steps, tags on a case, suite membership, attachments) carries no project of its own: it is
always reached through a case or suite found in the request's project, and a link is only ever
made between a case, a suite and a tag of one project (the services resolve every id within the
project), so a join can never lead into another project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    mapped_column,
    relationship,
)

from testops_kit.database import NAMING_CONVENTION, UTCDateTime, utcnow

# The predicate of "not soft-deleted", shared by partial indexes on both dialects.
ACTIVE = text("deleted_at IS NULL")

NAME_MAX = 255
PROJECT_KEY_MAX = 16
TAG_NAME_MAX = 100
FILENAME_MAX = 255
PROJECT_KEY_MAX = 16
CONTENT_TYPE_MAX = 255


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


case_tags = Table(
    "case_tags",
    Base.metadata,
    Column(
        "test_case_id",
        ForeignKey("test_cases.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_case_tags_tag_id_test_case_id", "tag_id", "test_case_id"),
)


class TestCase(Base):
    __tablename__ = "test_cases"
    __test__ = False  # not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(PROJECT_KEY_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    preconditions: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    expected_result: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]

    steps: Mapped[list[Step]] = relationship(order_by="Step.position", lazy="raise", viewonly=True)
    tags: Mapped[list[Tag]] = relationship(
        secondary=case_tags, order_by="Tag.name", lazy="raise", viewonly=True
    )
    suite_links: Mapped[list[SuiteCase]] = relationship(
        lazy="raise", viewonly=True, order_by="SuiteCase.suite_id"
    )

    __table_args__ = (
        # A name is unique among a project's active cases only: a deleted case never blocks it.
        Index(
            "uq_test_cases_project_name_active",
            "project",
            "name",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
        # A project's cases in each order the listing sorts by.
        Index("ix_test_cases_project_id", "project", "id"),
        Index("ix_test_cases_project_name_id", "project", "name", "id"),
        Index("ix_test_cases_project_updated_at_id", "project", "updated_at", "id"),
        Index("ix_test_cases_project_deleted_at", "project", "deleted_at"),
        # Ids are never reused on SQLite either: a client holding an old id must not reach a
        # new row.
        {"sqlite_autoincrement": True},
    )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Step(Base):
    __tablename__ = "test_case_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    test_case_id: Mapped[int] = mapped_column(ForeignKey("test_cases.id", ondelete="CASCADE"))
    position: Mapped[int]
    action: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    # A file name or reference (migration 0004 turned the lists stored before into text).
    attachments: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("test_case_id", "position"),)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(PROJECT_KEY_MAX))
    name: Mapped[str] = mapped_column(String(TAG_NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Unique per project; also the listing's order (by name).
    __table_args__ = (UniqueConstraint("project", "name"), {"sqlite_autoincrement": True})


class Suite(Base):
    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(PROJECT_KEY_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str | None] = mapped_column(Text)
    # Always a suite of the same project.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("suites.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_suites_parent_id", "parent_id"),
        Index("ix_suites_project_name_id", "project", "name", "id"),
        {"sqlite_autoincrement": True},
    )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


# A name is unique among active siblings; a project's root suites (parent NULL) are siblings of
# each other.
Index(
    "uq_suites_project_sibling_name_active",
    Suite.project,
    func.coalesce(Suite.parent_id, 0),
    Suite.name,
    unique=True,
    sqlite_where=ACTIVE,
    postgresql_where=ACTIVE,
)


class SuiteCase(Base):
    """A test case's membership in a suite, at a position (ascending order)."""

    __tablename__ = "suite_cases"

    suite_id: Mapped[int] = mapped_column(
        ForeignKey("suites.id", ondelete="CASCADE"), primary_key=True
    )
    test_case_id: Mapped[int] = mapped_column(
        ForeignKey("test_cases.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    suite: Mapped[Suite] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_suite_cases_suite_id_position", "suite_id", "position", "test_case_id"),
        Index("ix_suite_cases_test_case_id", "test_case_id"),
    )


class CaseAttachment(Base):
    """A file attached to a test case; its bytes are the storage object ``storage_key``."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    test_case_id: Mapped[int] = mapped_column(ForeignKey("test_cases.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    content_type: Mapped[str] = mapped_column(String(CONTENT_TYPE_MAX))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # One object per attachment (never shared by content), so deleting one removes exactly it.
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # A case's attachments, in id order: the listing's filter and its keyset in one index.
        Index("ix_case_attachments_test_case_id_id", "test_case_id", "id"),
        {"sqlite_autoincrement": True},
    )


def _trigram_index(column: InstrumentedAttribute[Any]) -> None:
    """A GIN trigram index on ``lower(column)`` for substring search (`q`), PostgreSQL only."""
    label = f"{column.key}_lower"
    Index(
        f"ix_{column.class_.__tablename__}_{column.key}_trgm",
        func.lower(column).label(label),
        postgresql_using="gin",
        postgresql_ops={label: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")


# Migration 0002 creates these; SQLite scans, which suits an embedded catalog. A GIN index has
# no order to lead with the project: it finds a `q`'s matches in every project, and the listing
# keeps its project's (the word is rare when the index is chosen, so they are few).
for _searched in (TestCase.name, TestCase.description, Suite.name, Tag.name):
    _trigram_index(_searched)
