"""Name field types of the catalog: trimmed, non-blank, bounded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from testops_catalog.models import NAME_MAX, TAG_NAME_MAX
from testops_kit.schemas import reject_nul

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(reject_nul),
]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_NAME_MAX),
    AfterValidator(reject_nul),
]
LongText = Annotated[str, StringConstraints(max_length=65_536), AfterValidator(reject_nul)]
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=65_536),
    AfterValidator(reject_nul),
]


def reject_null(cls: Any, value: Any) -> Any:
    """Field validator (mode="before") for PATCH bodies: the field may be left out, not nulled.

    Reuse it as ``_name_not_null = field_validator("name", mode="before")(reject_null)``.
    """
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value


def like_pattern(q: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``q`` anywhere, wildcards escaped (``\\``)."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
