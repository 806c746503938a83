"""Every run belongs to a project: `runs.project` (every existing run in `DEFAULT`) and its
copy `test_results.project`; the indexes listings are read from are led by the project.

On SQLite a column becomes NOT NULL without a default by re-creating the table, and dropping
the old `runs` with foreign keys on would cascade to every result, container, attachment and
upload of it. So on SQLite this revision commits what came before it (a consistent state: the
revisions before are whole), turns foreign keys off — which SQLite allows only between
transactions — and does its work in a transaction of its own, checking every foreign key before
it ends; the connection is the migration's own and is closed after.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PROJECT = "DEFAULT"
"""Where every run made before projects goes (``testops_kit.projects.DEFAULT_PROJECT``)."""

# table → (its indexes before, its indexes after: name → columns)
INDEXES: dict[str, tuple[dict[str, list[str]], dict[str, list[str]]]] = {
    "runs": (
        {
            "ix_runs_name_id": ["name", "id"],
            "ix_runs_status_id": ["status", "id"],
            "ix_runs_branch_id": ["branch", "id"],
            "ix_runs_created_at_id": ["created_at", "id"],
            "ix_runs_deleted_at_id": ["deleted_at", "id"],
        },
        {
            "ix_runs_project_id": ["project", "id"],
            "ix_runs_project_name_id": ["project", "name", "id"],
            "ix_runs_project_status_id": ["project", "status", "id"],
            "ix_runs_project_branch_id": ["project", "branch", "id"],
            "ix_runs_project_created_at_id": ["project", "created_at", "id"],
            "ix_runs_project_deleted_at_id": ["project", "deleted_at", "id"],
        },
    ),
    "test_results": (
        {"ix_test_results_history_id_id": ["history_id", "id"]},
        {"ix_test_results_project_history_id_id": ["project", "history_id", "id"]},
    ),
}


def _without_foreign_keys() -> None:
    """SQLite: end the migration's transaction, turn foreign keys off, begin another."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or context.is_offline_mode():
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def _check_foreign_keys() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or context.is_offline_mode():
        return
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


def upgrade() -> None:
    _without_foreign_keys()
    for table, (before, after) in INDEXES.items():
        # Every existing row lands in DEFAULT; no default is left behind: a row is always
        # written with its project.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "project", sa.String(length=16), nullable=False, server_default=DEFAULT_PROJECT
                )
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "project",
                existing_type=sa.String(length=16),
                existing_nullable=False,
                server_default=None,
            )
            for name in before:
                batch_op.drop_index(name)
            for name, columns in after.items():
                batch_op.create_index(name, columns, unique=False)
    _check_foreign_keys()


def downgrade() -> None:
    _without_foreign_keys()
    for table, (before, after) in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in after:
                batch_op.drop_index(name)
            for name, columns in before.items():
                batch_op.create_index(name, columns, unique=False)
            batch_op.drop_column("project")
    _check_foreign_keys()
