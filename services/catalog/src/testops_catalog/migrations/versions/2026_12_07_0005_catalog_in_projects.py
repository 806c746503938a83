"""Every test case, suite and tag belongs to a project: `project` (every existing row in
`DEFAULT`); case, suite and tag names are unique per project, and the indexes that serve a listing
are led by the project.

On SQLite a column loses its default, and a unique constraint goes, only by re-creating the
table, and dropping the old table acts on every row that refers to it: steps, tags on cases, suite
membership and attachments would be deleted (ON DELETE CASCADE), child suites would lose their
parent (SET NULL, which also reaches the copy: it refers to `suites` by name). So foreign keys are
not enforced while this migration runs there — `PRAGMA foreign_keys` changes only outside a
transaction: the migration's own is committed first, with nothing written yet, and begun again —
and `PRAGMA foreign_key_check` proves before the end that every reference still holds. The
tables' AUTOINCREMENT counters are carried over, so no id of a deleted row is handed out again.

The downgrade refuses while anything is in another project than `DEFAULT`: without projects,
everyone would see it, and names unique per project may clash.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PROJECT = "DEFAULT"
"""Where everything made before projects goes (``testops_kit.projects.DEFAULT_PROJECT``)."""
PROJECT_KEY_MAX = 16
TABLES = ("test_cases", "suites", "tags")
ACTIVE = sa.text("deleted_at IS NULL")

# (name, table, columns) of the plain indexes each side of the migration has.
OLD_INDEXES = [
    ("ix_test_cases_name_id", "test_cases", ["name", "id"]),
    ("ix_test_cases_updated_at_id", "test_cases", ["updated_at", "id"]),
    ("ix_test_cases_deleted_at", "test_cases", ["deleted_at"]),
    ("ix_suites_name_id", "suites", ["name", "id"]),
]
NEW_INDEXES = [
    ("ix_test_cases_project_id", "test_cases", ["project", "id"]),
    ("ix_test_cases_project_name_id", "test_cases", ["project", "name", "id"]),
    ("ix_test_cases_project_updated_at_id", "test_cases", ["project", "updated_at", "id"]),
    ("ix_test_cases_project_deleted_at", "test_cases", ["project", "deleted_at"]),
    ("ix_suites_project_name_id", "suites", ["project", "name", "id"]),
]


def _on_sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def _enforce_foreign_keys(enforced: bool) -> None:
    """SQLite: switch foreign key enforcement, between two transactions."""
    if not _on_sqlite():
        return
    pragma = f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}"
    if context.is_offline_mode():
        op.execute(pragma)
        return
    op.execute("COMMIT")
    op.execute(pragma)
    op.execute("BEGIN IMMEDIATE")


def _check_foreign_keys() -> None:
    """SQLite: fail (and roll back) when any row refers to one that is not there."""
    if not _on_sqlite() or context.is_offline_mode():
        return
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"rows refer to rows that are not there: {broken[:10]}")


def _sequences() -> dict[str, int]:
    """SQLite: the AUTOINCREMENT counter of each table (the highest id ever handed out)."""
    if not _on_sqlite() or context.is_offline_mode():
        return {}
    rows = op.get_bind().exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all()
    return {name: seq for name, seq in rows if name in TABLES}


def _restore_sequences(saved: dict[str, int]) -> None:
    """SQLite: a re-created table counts from the highest id it holds; carry on from the highest
    it ever had."""
    sequence = sa.table("sqlite_sequence", sa.column("name", sa.Text()), sa.column("seq"))
    for name, seq in saved.items():
        op.execute(
            sequence.update().where(sequence.c.name == name, sequence.c.seq < seq).values(seq=seq)
        )


def _drop_indexes(names: list[tuple[str, str, list[str]]]) -> None:
    for name, table, _ in names:
        op.drop_index(name, table_name=table)


def _create_indexes(names: list[tuple[str, str, list[str]]]) -> None:
    for name, table, columns in names:
        op.create_index(name, table, columns, unique=False)


def upgrade() -> None:
    saved = _sequences()
    _enforce_foreign_keys(False)
    # The indexes this replaces go first: SQLite re-creates a table with the indexes it can
    # reflect, and an expression index is not one of them.
    op.drop_index("uq_suites_sibling_name_active", table_name="suites")
    op.drop_index("uq_test_cases_name_active", table_name="test_cases")
    _drop_indexes(OLD_INDEXES)
    for table in TABLES:
        # NOT NULL with a default: every existing row is in DEFAULT (on PostgreSQL without
        # rewriting the table) ...
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "project",
                    sa.String(length=PROJECT_KEY_MAX),
                    nullable=False,
                    server_default=DEFAULT_PROJECT,
                )
            )
        # ... and the default goes: every new row names its project.
        with op.batch_alter_table(
            table, schema=None, table_kwargs={"sqlite_autoincrement": True}
        ) as batch_op:
            batch_op.alter_column(
                "project",
                existing_type=sa.String(length=PROJECT_KEY_MAX),
                existing_nullable=False,
                server_default=None,
            )
            if table == "tags":
                batch_op.drop_constraint("uq_tags_name", type_="unique")
                batch_op.create_unique_constraint("uq_tags_project_name", ["project", "name"])
    op.create_index(
        "uq_test_cases_project_name_active",
        "test_cases",
        ["project", "name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index(
        "uq_suites_project_sibling_name_active",
        "suites",
        ["project", sa.text("coalesce(parent_id, 0)"), "name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    _create_indexes(NEW_INDEXES)
    _restore_sequences(saved)
    _check_foreign_keys()
    _enforce_foreign_keys(True)


def _refuse_other_projects() -> None:
    if context.is_offline_mode():
        return
    for table in TABLES:
        rows = sa.table(table, sa.column("project", sa.String()))
        other = op.get_bind().execute(
            sa.select(rows.c.project).where(rows.c.project != DEFAULT_PROJECT).limit(1)
        )
        if other.first() is not None:
            raise RuntimeError(
                f"{table} holds rows of projects other than {DEFAULT_PROJECT}: a catalog without "
                "projects would show them to everyone; delete them before downgrading"
            )


def downgrade() -> None:
    _refuse_other_projects()
    saved = _sequences()
    _enforce_foreign_keys(False)
    _drop_indexes(NEW_INDEXES)
    op.drop_index("uq_suites_project_sibling_name_active", table_name="suites")
    op.drop_index("uq_test_cases_project_name_active", table_name="test_cases")
    for table in TABLES:
        with op.batch_alter_table(
            table, schema=None, table_kwargs={"sqlite_autoincrement": True}
        ) as batch_op:
            if table == "tags":
                batch_op.drop_constraint("uq_tags_project_name", type_="unique")
                batch_op.create_unique_constraint("uq_tags_name", ["name"])
            batch_op.drop_column("project")
    op.create_index(
        "uq_test_cases_name_active",
        "test_cases",
        ["name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index(
        "uq_suites_sibling_name_active",
        "suites",
        [sa.text("coalesce(parent_id, 0)"), "name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    _create_indexes(OLD_INDEXES)
    _restore_sequences(saved)
    _check_foreign_keys()
    _enforce_foreign_keys(True)
