"""Every execution belongs to a project: `project` (every existing one in `DEFAULT`) and
`created_by`; the history's indexes are led by the project, the queue's stays one for all.

On SQLite a column becomes NOT NULL by re-creating the table, and dropping the old `executions`
cascades to `log_chunks` (foreign keys are on): the chunks wait in a table of their own meanwhile
and come back after, both ways.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PROJECT = "DEFAULT"
"""Where every execution made before projects goes (``testops_kit.projects.DEFAULT_PROJECT``)."""
KEPT_CHUNKS = "_log_chunks_kept"

executions = sa.table("executions", sa.column("project", sa.String(16)))


def _keep_log_chunks() -> bool:
    if op.get_bind().dialect.name != "sqlite":
        return False
    op.execute(f"CREATE TABLE {KEPT_CHUNKS} AS SELECT * FROM log_chunks")
    return True


def _restore_log_chunks() -> None:
    op.execute(
        f'INSERT INTO log_chunks (execution_id, "offset", data) '
        f'SELECT execution_id, "offset", data FROM {KEPT_CHUNKS}'
    )
    op.execute(f"DROP TABLE {KEPT_CHUNKS}")


def upgrade() -> None:
    kept = _keep_log_chunks()
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=255), nullable=True))
    op.execute(executions.update().values(project=DEFAULT_PROJECT))
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.alter_column("project", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_index("ix_executions_created_at_id")
        batch_op.create_index(
            "ix_executions_project_created_at_id", ["project", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_executions_project_status_created_at_id",
            ["project", "status", "created_at", "id"],
            unique=False,
        )
    if kept:
        _restore_log_chunks()


def downgrade() -> None:
    kept = _keep_log_chunks()
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_project_status_created_at_id")
        batch_op.drop_index("ix_executions_project_created_at_id")
        batch_op.create_index("ix_executions_created_at_id", ["created_at", "id"], unique=False)
        batch_op.drop_column("created_by")
        batch_op.drop_column("project")
    if kept:
        _restore_log_chunks()
