"""Initial schema: test cases, steps, tags, suites and suite membership.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 08:53:25.905435
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import testops_kit.database

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", testops_kit.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["suites.id"],
            name=op.f("fk_suites_parent_id_suites"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suites")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.create_index("ix_suites_name_id", ["name", "id"], unique=False)
        batch_op.create_index("ix_suites_parent_id", ["parent_id"], unique=False)
    # Expression index (autogenerate cannot write these): names unique among active siblings.
    op.create_index(
        "uq_suites_sibling_name_active",
        "suites",
        [sa.text("coalesce(parent_id, 0)"), "name"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "test_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("preconditions", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expected_result", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", testops_kit.database.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_cases")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("test_cases", schema=None) as batch_op:
        batch_op.create_index("ix_test_cases_deleted_at", ["deleted_at"], unique=False)
        batch_op.create_index("ix_test_cases_name_id", ["name", "id"], unique=False)
        batch_op.create_index("ix_test_cases_updated_at_id", ["updated_at", "id"], unique=False)
        batch_op.create_index(
            "uq_test_cases_name_active",
            ["name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "case_tags",
        sa.Column("test_case_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_case_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["test_case_id"],
            ["test_cases.id"],
            name=op.f("fk_case_tags_test_case_id_test_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("test_case_id", "tag_id", name=op.f("pk_case_tags")),
    )
    with op.batch_alter_table("case_tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_tags_tag_id_test_case_id", ["tag_id", "test_case_id"], unique=False
        )

    op.create_table(
        "suite_cases",
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("test_case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", testops_kit.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["suite_id"],
            ["suites.id"],
            name=op.f("fk_suite_cases_suite_id_suites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["test_case_id"],
            ["test_cases.id"],
            name=op.f("fk_suite_cases_test_case_id_test_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("suite_id", "test_case_id", name=op.f("pk_suite_cases")),
    )
    with op.batch_alter_table("suite_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suite_cases_suite_id_position",
            ["suite_id", "position", "test_case_id"],
            unique=False,
        )
        batch_op.create_index("ix_suite_cases_test_case_id", ["test_case_id"], unique=False)

    op.create_table(
        "test_case_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("test_case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["test_case_id"],
            ["test_cases.id"],
            name=op.f("fk_test_case_steps_test_case_id_test_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_case_steps")),
        sa.UniqueConstraint(
            "test_case_id", "position", name=op.f("uq_test_case_steps_test_case_id_position")
        ),
    )


def downgrade() -> None:
    op.drop_table("test_case_steps")
    with op.batch_alter_table("suite_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_suite_cases_test_case_id")
        batch_op.drop_index("ix_suite_cases_suite_id_position")

    op.drop_table("suite_cases")
    with op.batch_alter_table("case_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_case_tags_tag_id_test_case_id")

    op.drop_table("case_tags")
    with op.batch_alter_table("test_cases", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_test_cases_name_active",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_test_cases_updated_at_id")
        batch_op.drop_index("ix_test_cases_name_id")
        batch_op.drop_index("ix_test_cases_deleted_at")

    op.drop_table("test_cases")
    op.drop_table("tags")
    op.drop_index("uq_suites_sibling_name_active", table_name="suites")
    with op.batch_alter_table("suites", schema=None) as batch_op:
        batch_op.drop_index("ix_suites_parent_id")
        batch_op.drop_index("ix_suites_name_id")

    op.drop_table("suites")
