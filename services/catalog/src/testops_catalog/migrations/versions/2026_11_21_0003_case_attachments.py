"""Case attachments: files attached to a test case, their bytes kept in object storage.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:03:28.210664
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import testops_kit.database

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("test_case_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["test_case_id"],
            ["test_cases.id"],
            name=op.f("fk_case_attachments_test_case_id_test_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_case_attachments_storage_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_attachments_test_case_id_id", ["test_case_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_case_attachments_test_case_id_id")

    op.drop_table("case_attachments")
