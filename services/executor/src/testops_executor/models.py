"""The executor's table: executions, queued and past, and their logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from testops_kit.database import NAMING_CONVENTION, UTCDateTime, utcnow


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        # A project's history, newest first, and by status (its running one, its finished ones).
        Index("ix_executions_project_created_at_id", "project", "created_at", "id"),
        Index(
            "ix_executions_project_status_created_at_id", "project", "status", "created_at", "id"
        ),
        # The queue, one for every project: the oldest pending first.
        Index("ix_executions_status_created_at_id", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project: Mapped[str] = mapped_column(String(16))
    """The key of the project the execution belongs to; its log and its run belong there too."""
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(32))
    repo_url: Mapped[str] = mapped_column(Text)
    branch: Mapped[str | None] = mapped_column(String(255))
    commit: Mapped[str | None] = mapped_column(String(64))
    suite_name: Mapped[str] = mapped_column(Text)
    suite_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_name: Mapped[str] = mapped_column(String(255))
    timeout_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    """Also the queue's order: pending executions are taken oldest first."""
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(Integer)
    log_size: Mapped[int] = mapped_column(BigInteger, default=0)
    log_truncated: Mapped[bool] = mapped_column(default=False)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(255))
    """The name of whoever queued it (the principal's), which its upload is made in."""
    owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(index=True)


class LogChunk(Base):
    """A piece of an execution's output, in order: any executor process can serve the log."""

    __tablename__ = "log_chunks"

    execution_id: Mapped[str] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    offset: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
