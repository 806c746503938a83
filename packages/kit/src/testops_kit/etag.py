"""Optimistic concurrency: a resource's ``version`` as its ``ETag``, checked by ``If-Match``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from testops_kit.errors import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` you last read; the change is refused with 412 when it is stale.",
    ),
]


def etag_for(version: int) -> str:
    """The strong entity tag of a resource version: ``"3"``."""
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Raise 412 ``precondition_failed`` unless ``if_match`` is absent, ``*`` or names ``version``.

    Weak tags (``W/"3"``) are compared by their value, as RFC 9110 allows for our versions.
    """
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if "*" in tags:
        return
    current = etag_for(version)
    if any(tag.removeprefix("W/") == current for tag in tags):
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {current}; "
        "read the resource again and retry."
    )
