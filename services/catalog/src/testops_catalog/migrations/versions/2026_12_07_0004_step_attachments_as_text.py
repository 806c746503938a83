"""A step's attachments become text (a file name or reference), as the API takes them.

Until now the column was JSON holding a list. Each stored value becomes text, keeping all it can:

- null (SQL or JSON) and an empty list: null;
- a string: that string;
- a list of strings, none holding a comma: the strings joined with ", "
  (`["login.png", "notes.txt"]` → `login.png, notes.txt`);
- anything else: its JSON text (`[{"file": "login.png"}]` stays `[{"file": "login.png"}]`), and
  JSON that Python cannot read back (nested past its recursion limit) stays as it was stored.

The downgrade turns text into lists again: JSON text of a list or an object is read back,
anything else is split at ", " — so a value the upgrade made comes back as it was.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:00:00.000000
"""

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

steps = sa.table(
    "test_case_steps", sa.column("id", sa.Integer()), sa.column("attachments", sa.Text())
)


def _storable(text: str) -> bool:
    """Whether both dialects can hold ``text`` (PostgreSQL text takes no NUL, nor do UTF-8
    encoders take lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_text(value: Any, raw: str) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except RecursionError:
        return raw
    return text if _storable(text) else json.dumps(value)  # escaped: always storable


def as_text(raw: str) -> str | None:
    """What the JSON text ``raw`` of the old column becomes."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if value is None or value == []:
        return None
    if isinstance(value, str) and _storable(value):
        return value
    if (
        isinstance(value, list)
        and all(isinstance(item, str) and "," not in item and item.strip() for item in value)
        and _storable(", ".join(value))
    ):
        return ", ".join(value)
    return _json_text(value, raw)


def as_json(text: str) -> str:
    """The JSON text of the list (or, when it was one, the object) that ``text`` stands for."""
    if text.startswith(("[", "{")):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, list | dict):
            return text
    return json.dumps(text.split(", "))


def _non_null_values() -> Iterator[list[tuple[int, str]]]:
    """The ``(id, attachments)`` of the steps that have some, in batches by id."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(steps.c.id, steps.c.attachments)
            .where(steps.c.attachments.is_not(None), steps.c.id > last)
            .order_by(steps.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [(row.id, row.attachments) for row in rows]
        last = rows[-1].id


def _rewrite(convert: Callable[[str], str | None]) -> None:
    if context.is_offline_mode():
        return  # no rows to read: the SQL script changes the type and leaves the text as it is
    update = (
        steps.update()
        .where(steps.c.id == sa.bindparam("step_id"))
        .values(attachments=sa.bindparam("value"))
    )
    for batch in _non_null_values():
        changes = [
            {"step_id": step_id, "value": converted}
            for step_id, raw in batch
            if (converted := convert(raw)) != raw
        ]
        if changes:
            op.get_bind().execute(update, changes)


def upgrade() -> None:
    with op.batch_alter_table("test_case_steps", schema=None) as batch_op:
        batch_op.alter_column(
            "attachments",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=True,
            postgresql_using="attachments::text",
        )
    _rewrite(as_text)


def downgrade() -> None:
    _rewrite(as_json)
    with op.batch_alter_table("test_case_steps", schema=None) as batch_op:
        batch_op.alter_column(
            "attachments",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=True,
            postgresql_using="attachments::json",
        )
