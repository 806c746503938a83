from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from testops_catalog.names import LongText, Name, RequiredText, TagName, reject_null
from testops_catalog.tags.schemas import TagRef
from testops_kit.schemas import DbId, Position, Timestamp


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(
        default=None,
        description="Ignored (steps are replaced as a whole); allowed for round trips.",
    )
    position: Position | None = Field(
        default=None, description="Place of the step; default: after the highest given position."
    )
    action: RequiredText
    expected: LongText | None = None
    attachments: list[Any] | None = Field(
        default=None, max_length=100, description="References to files the step needs."
    )


class TagByName(BaseModel):
    """A tag found by name, created when missing."""

    model_config = ConfigDict(extra="forbid")

    name: TagName


class TagById(BaseModel):
    """A tag that exists; an unknown id is skipped with a warning."""

    model_config = ConfigDict(extra="forbid")

    id: DbId
    name: str | None = Field(
        default=None, description="Ignored: the id decides. Allowed so a read tag can be sent back."
    )


class SuiteLinkByName(BaseModel):
    """A root suite found by name, created when missing."""

    model_config = ConfigDict(extra="forbid")

    suite_name: Name
    position: Position | None = None


class SuiteLinkById(BaseModel):
    """A suite that exists; an unknown id is skipped with a warning."""

    model_config = ConfigDict(extra="forbid")

    suite_id: DbId
    position: Position | None = None


TagIn = TagName | TagByName | TagById
SuiteLinkIn = SuiteLinkByName | SuiteLinkById


_READ_ONLY_FIELDS = frozenset(
    {"id", "version", "created_at", "updated_at", "is_deleted", "deleted_at"}
)


class _CaseBody(BaseModel):
    """A case as a client writes it. Unknown fields are refused (a typo must not pass silently),
    but a case as read can be sent back: read-only fields are dropped and its ``suites`` become
    ``suite_links`` when no ``suite_links`` are given."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _accept_what_was_read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {key: value for key, value in data.items() if key not in _READ_ONLY_FIELDS}
        suites = data.pop("suites", None)
        if isinstance(suites, list) and "suite_links" not in data:
            data["suite_links"] = [
                {"suite_id": item.get("id"), "position": item.get("position")}
                if isinstance(item, dict)
                else item
                for item in suites
            ]
        return data


class TestCaseWrite(_CaseBody):
    """A whole test case: the body of POST and PUT (omitted fields become null or empty)."""

    __test__ = False

    name: Name
    preconditions: LongText | None = None
    description: LongText | None = None
    expected_result: LongText | None = None
    steps: list[StepIn] = Field(default_factory=list, max_length=1000)
    tags: list[TagIn] = Field(default_factory=list, max_length=200)
    suite_links: list[SuiteLinkIn] = Field(default_factory=list, max_length=200)


class TestCasePatch(_CaseBody):
    """Only the fields present change; a collection present replaces the whole collection."""

    __test__ = False

    name: Name | None = None
    preconditions: LongText | None = None
    description: LongText | None = None
    expected_result: LongText | None = None
    steps: list[StepIn] | None = Field(default=None, max_length=1000)
    tags: list[TagIn] | None = Field(default=None, max_length=200)
    suite_links: list[SuiteLinkIn] | None = Field(default=None, max_length=200)

    _name_not_null = field_validator("name", mode="before")(reject_null)


class StepOut(BaseModel):
    id: int
    position: int
    action: str
    expected: str | None
    attachments: list[Any] | None


class CaseSuiteOut(BaseModel):
    id: int
    name: str
    position: int


class TestCaseOut(BaseModel):
    __test__ = False

    id: int
    name: str
    preconditions: str | None
    description: str | None
    expected_result: str | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    is_deleted: bool
    deleted_at: Timestamp | None
    steps: list[StepOut]
    tags: list[TagRef]
    suites: list[CaseSuiteOut]
