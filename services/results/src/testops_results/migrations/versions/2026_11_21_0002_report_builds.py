"""report builds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 16:02:11.504113
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import testops_kit.database

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("build_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column(
            "lease_expires_at", testops_kit.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("uploads", sa.Integer(), nullable=False),
        sa.Column("history_runs", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", testops_kit.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", testops_kit.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_report_builds_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_builds")),
        sa.UniqueConstraint("run_id", name=op.f("uq_report_builds_run_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_report_builds_status_created_at",
        "report_builds",
        ["status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_report_builds_status_created_at", table_name="report_builds")
    op.drop_table("report_builds")
