"""Name and text field types of the catalog: trimmed where it matters, bounded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from testops_catalog.models import NAME_MAX, TAG_NAME_MAX
from testops_kit.schemas import NOT_BLANK_PATTERN, reject_nul

# Trimmed, then at least one character: the document says so with a pattern.
NOT_BLANK = Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(reject_nul),
    NOT_BLANK,
]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_NAME_MAX),
    AfterValidator(reject_nul),
    NOT_BLANK,
]
LongText = Annotated[str, StringConstraints(max_length=65_536), AfterValidator(reject_nul)]
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=65_536),
    AfterValidator(reject_nul),
    NOT_BLANK,
]


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep it")
    return value


def _without_null_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


PatchName = Annotated[
    Name | SkipJsonSchema[None],
    BeforeValidator(_refuse_null),
    Field(json_schema_extra=_without_null_default),
]
"""A name a PATCH body may leave out (None then) but never set to null: the schema says a string."""

IgnoredText = Annotated[str, StringConstraints(max_length=NAME_MAX)]
"""A short text a body may carry back as it was read, and which is ignored."""


def like_pattern(q: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``q`` anywhere, wildcards escaped (``\\``)."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
