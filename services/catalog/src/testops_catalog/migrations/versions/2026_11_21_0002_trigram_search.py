"""Trigram indexes for the substring search of test cases (`q`), on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# lower(name) LIKE '%q%' OR lower(description) LIKE '%q%': one GIN index per side of the OR.
TRIGRAM_INDEXES = {
    "ix_test_cases_name_trgm": "name",
    "ix_test_cases_description_trgm": "description",
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite has no pg_trgm: `q` scans there, which suits an embedded catalog
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, column in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON test_cases USING gin (lower({column}) gin_trgm_ops)")
        # 1,000 histogram buckets rather than 100: a rare word is then estimated as rare and
        # still takes the index.
        op.execute(f"ALTER INDEX {index} ALTER COLUMN 1 SET STATISTICS 1000")
    # The indexes bring statistics on lower(name) and lower(description) once analysed; without
    # them the planner takes the index even for common words and sorts thousands of rows.
    op.execute("ANALYZE test_cases")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for index in TRIGRAM_INDEXES:
        op.drop_index(index, table_name="test_cases")
    # pg_trgm stays: it may serve other objects, and dropping it is its owner's decision.
