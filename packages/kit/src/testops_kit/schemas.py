"""Field types shared by every service's schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field, PlainSerializer


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(lambda value: _as_utc(value).isoformat(), return_type=str, when_used="json"),
]
"""A point in time, rendered as RFC 3339 with an explicit ``+00:00`` offset; naive input is UTC."""

MAX_ID = 2_147_483_647

DbId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
"""An integer id as stored (positive, 32-bit)."""

Position = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
"""A 1-based place in an ordered list."""

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The resource's id.")]
"""A path parameter holding an id."""


NO_NUL_PATTERN = r"^[^\x00]*$"
"""A pattern for query strings: no NUL characters, which PostgreSQL text cannot hold."""


def reject_nul(value: str) -> str:
    """Validator: refuse NUL characters (PostgreSQL text cannot hold them)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value
