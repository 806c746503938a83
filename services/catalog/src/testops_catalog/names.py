"""Name field types of the catalog: trimmed, non-blank, bounded."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from testops_catalog.models import NAME_MAX, TAG_NAME_MAX

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
TagName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_NAME_MAX)
]
LongText = Annotated[str, StringConstraints(max_length=65_536)]
RequiredText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=65_536)
]


def like_pattern(q: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``q`` anywhere, wildcards escaped (``\\``)."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
