"""Trigram indexes for the substring searches (`q`) of cases, suites and tags, on PostgreSQL.

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

# `lower(column) LIKE '%q%'`: for cases one GIN index per side of `name … OR description …`.
TRIGRAM_INDEXES = {
    "ix_test_cases_name_trgm": ("test_cases", "name"),
    "ix_test_cases_description_trgm": ("test_cases", "description"),
    "ix_suites_name_trgm": ("suites", "name"),
    "ix_tags_name_trgm": ("tags", "name"),
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite has no pg_trgm: `q` scans there, which suits an embedded catalog
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, (table, column) in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON {table} USING gin (lower({column}) gin_trgm_ops)")
        # 1,000 histogram buckets rather than 100: a rare word is then estimated as rare and
        # still takes the index.
        op.execute(f"ALTER INDEX {index} ALTER COLUMN 1 SET STATISTICS 1000")
    # The indexes bring statistics on lower(name) and lower(description) once analysed; without
    # them the planner takes the index even for common words and sorts thousands of rows.
    op.execute("ANALYZE test_cases, suites, tags")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for index, (table, _) in TRIGRAM_INDEXES.items():
        op.drop_index(index, table_name=table)
    # pg_trgm stays: it may serve other objects, and dropping it is its owner's decision.
