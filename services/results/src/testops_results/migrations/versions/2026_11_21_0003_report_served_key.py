"""report builds: the build served

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("report_builds", sa.Column("served_key", sa.String(length=32), nullable=True))
    # What was ready is what is served.
    op.execute("UPDATE report_builds SET served_key = build_key WHERE status = 'ready'")


def downgrade() -> None:
    with op.batch_alter_table("report_builds") as batch:
        batch.drop_column("served_key")
