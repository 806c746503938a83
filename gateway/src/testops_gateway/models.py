"""The gateway's tables: who may use TestOps (users, their tokens and browser sessions), the
projects they work in and their role in each, and the audit log of what they did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
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

USERNAME_MAX = 64
PROJECT_KEY_MAX = 16
NAME_MAX = 255
ACTOR_MAX = 80


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class User(Base):
    """A person (``human``) or a CI pipeline's account (``service``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    email: Mapped[str | None] = mapped_column(String(NAME_MAX))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """Argon2id; None for a service account or a user who has never been given a password."""
    instance_role: Mapped[str] = mapped_column(String(16), default="user")
    kind: Mapped[str] = mapped_column(String(16), default="human")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[datetime | None]

    __table_args__ = ({"sqlite_autoincrement": True},)

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(PROJECT_KEY_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    __table_args__ = ({"sqlite_autoincrement": True},)


class Membership(Base):
    """A user's role in a project: ``viewer``, ``editor`` or ``owner``."""

    __tablename__ = "memberships"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_memberships_user_id", "user_id"),)


class ApiToken(Base):
    """A user's token: only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(USERNAME_MAX))
    prefix: Mapped[str] = mapped_column(String(16))
    """The token's first characters, so a person can tell their tokens apart."""
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    """Comma list of ``read``, ``write``, ``execute``."""
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    """The one project the token may act in; None: every project of its user."""
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_api_tokens_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )


class Session(Base):
    """A browser's sign-in: the cookie holds a secret, the table its SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    csrf_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    """The absolute end of the session, however active it is."""
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_sessions_user_id", "user_id"),
        {"sqlite_autoincrement": True},
    )


class AuditEvent(Base):
    """One write or sign-in; never a secret, a body or a header."""

    __tablename__ = "audit_events"

    # SQLite numbers rows with INTEGER PRIMARY KEY only; PostgreSQL keeps a log's worth of ids.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    actor_username: Mapped[str | None] = mapped_column(String(ACTOR_MAX))
    """The username (as it was then), ``token:<name>`` for a configured token line,
    ``local-admin``, or the name a failed sign-in gave."""
    token_id: Mapped[int | None]
    project: Mapped[str | None] = mapped_column(String(PROJECT_KEY_MAX))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    """The route template (``/api/v1/test-cases/{test_case_id}``)."""
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str | None] = mapped_column(String(1024))
    """The path as requested (``/api/v1/test-cases/12``)."""
    status: Mapped[int]
    request_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_at_id", "at", "id"),
        Index("ix_audit_events_project_at_id", "project", "at", "id"),
        Index("ix_audit_events_actor_username_at_id", "actor_username", "at", "id"),
        Index("ix_audit_events_action_at", "action", "at"),
        {"sqlite_autoincrement": True},
    )
