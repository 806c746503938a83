"""The results service's tables.

A run holds test results (one row per result file; retries flagged ``is_retry``), the
containers whose fixtures apply to them, and its attachments. Attachment bytes live in object
storage once per distinct content (``blobs``, keyed by sha256); the raw result and container
files of each upload are kept as one archive object per upload (``run_uploads``).

``uploads`` and ``upload_blobs`` track uploads in progress, so that the objects of an upload
that failed or whose process died can be found and removed.

Every run belongs to a project (``runs.project``, the project's key); what hangs off a run
(results, containers, attachments, uploads, report builds) is its run's. A result also carries
its run's project, so that a test's history (every result with one history id) is read from
one index range of one project, never by joining runs it would then throw away. Every index a
listing is read from leads with the project.

Attachment contents are shared by sha256 across runs, also across projects: an object is only
ever reached through an attachment row, and every read of one checks its run's project, so
sharing the bytes shares nothing a project could read of another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from testops_kit.database import NAMING_CONVENTION, UTCDateTime, utcnow

NAME_MAX = 255
PROJECT_MAX = 16

LabelKeys = JSON().with_variant(postgresql.ARRAY(Text), "postgresql")
"""A list of strings: a text array on PostgreSQL, JSON on SQLite."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_project_id", "project", "id"),
        Index("ix_runs_project_name_id", "project", "name", "id"),
        Index("ix_runs_project_status_id", "project", "status", "id"),
        Index("ix_runs_project_branch_id", "project", "branch", "id"),
        Index("ix_runs_project_created_at_id", "project", "created_at", "id"),
        Index("ix_runs_project_deleted_at_id", "project", "deleted_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(PROJECT_MAX))
    """The key of the project the run belongs to."""
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(default=0)
    passed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    broken: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    unknown: Mapped[int] = mapped_column(default=0)
    retries: Mapped[int] = mapped_column(default=0)
    retry_attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))
    execution_id: Mapped[str | None] = mapped_column(String(36))
    branch: Mapped[str | None] = mapped_column(String(NAME_MAX))
    commit: Mapped[str | None] = mapped_column(String(NAME_MAX))
    ci_url: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    executor: Mapped[dict[str, Any] | None]
    categories: Mapped[list[Any] | None]
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class TestResult(Base):
    __tablename__ = "test_results"
    __test__ = False  # not a pytest test class
    __table_args__ = (
        Index("ix_test_results_run_id_id", "run_id", "id"),
        Index("ix_test_results_run_id_status_id", "run_id", "status", "id"),
        Index("ix_test_results_run_id_uuid", "run_id", "uuid"),
        Index("ix_test_results_run_id_history_id", "run_id", "history_id"),
        Index("ix_test_results_project_history_id_id", "project", "history_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(String(PROJECT_MAX))
    """Its run's project (runs never move), for a test's history."""
    uuid: Mapped[str] = mapped_column(String(NAME_MAX))
    history_id: Mapped[str | None] = mapped_column(String(80))
    test_case_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    full_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    trace: Mapped[str | None] = mapped_column(Text)
    flaky: Mapped[bool] = mapped_column(Boolean, default=False)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    known: Mapped[bool] = mapped_column(Boolean, default=False)
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    stop_ms: Mapped[int | None] = mapped_column(BigInteger)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    is_retry: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    label_keys: Mapped[list[str]] = mapped_column(LabelKeys, default=list)
    """``name:value`` of every label, for label filters (a GIN index on PostgreSQL)."""
    document: Mapped[str] = mapped_column(Text)
    """The result file as uploaded: steps, links, attachments, … are read from it on demand."""


# Label filters: PostgreSQL answers `label_keys @> ARRAY[...]` from this index; SQLite, an
# embedded store, looks through the run's results (the run id index narrows them first).
Index("ix_test_results_label_keys", TestResult.label_keys, postgresql_using="gin").ddl_if(
    dialect="postgresql"
)


class Container(Base):
    """A container with children and fixtures: its befores and afters apply to its children."""

    __tablename__ = "containers"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    uuid: Mapped[str] = mapped_column(String(NAME_MAX))
    document: Mapped[str] = mapped_column(Text)
    """The container file as uploaded: its befores and afters are read from it on demand."""


class ContainerChild(Base):
    __tablename__ = "container_children"
    __table_args__ = (Index("ix_container_children_run_id_result_uuid", "run_id", "result_uuid"),)

    container_id: Mapped[int] = mapped_column(
        ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    result_uuid: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("run_id", "source"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(NAME_MAX))
    name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(NAME_MAX))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Blob(Base):
    """One stored attachment content. Its row is also the lock taken before the object is
    written or removed, so a removal never races an upload that is about to rely on it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunUpload(Base):
    """One upload (shard) of a run, with the object that keeps its raw result files."""

    __tablename__ = "run_uploads"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    object_key: Mapped[str] = mapped_column(String(NAME_MAX))
    files: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Upload(Base):
    """An upload being ingested. Removed when it lands or fails; one left behind is abandoned."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UploadBlob(Base):
    """A blob an upload in progress has written or relies on."""

    __tablename__ = "upload_blobs"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ReportBuild(Base):
    """A run's Allure HTML report: the latest build asked for, one row per run.

    Its files are stored under ``reports/<run_id>/<build_key>/``; ``uploads`` is how many of
    the run's uploads (shards) the build covers, so a run that gained files since is rebuilt.
    ``served_key`` is the last build that was ready: its files are the ones served, also while a
    newer build is pending or building and after one failed.
    """

    __tablename__ = "report_builds"
    __table_args__ = (
        Index("ix_report_builds_status_created_at", "status", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    build_key: Mapped[str] = mapped_column(String(32))
    served_key: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    """``pending`` → ``building`` → ``ready`` | ``failed``."""
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(NAME_MAX))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    uploads: Mapped[int] = mapped_column(default=0)
    history_runs: Mapped[int] = mapped_column(default=0)
    files: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
