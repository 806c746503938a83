from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from testops_catalog.names import IgnoredText, LongText, Name, PatchName, RequiredText, TagName
from testops_catalog.tags.schemas import TagRef
from testops_kit.schemas import MAX_ID, DbId, Position, Timestamp

IGNORED = "Read-only: ignored when sent, allowed so that a case as read can be sent back."


def _ignored(**constraints: Any) -> Any:
    """A field of a case as read that a body may carry and that is ignored."""
    return Field(
        default=None, description=IGNORED, json_schema_extra={"readOnly": True}, **constraints
    )


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: DbId | None = _ignored()
    position: Position | None = Field(
        default=None, description="Place of the step; default: after the highest given position."
    )
    action: RequiredText
    expected: LongText | None = None
    attachments: LongText | None = Field(
        default=None,
        description="The file or files the step needs: a name or reference (`screenshot-1.png`).",
    )


class TagByName(BaseModel):
    """A tag found by name, created when missing."""

    model_config = ConfigDict(extra="forbid")

    name: TagName


class TagById(BaseModel):
    """A tag that exists; an unknown id is skipped with a warning."""

    model_config = ConfigDict(extra="forbid")

    id: DbId
    name: IgnoredText | None = Field(
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


class CaseSuiteIn(BaseModel):
    """A suite as a case read shows it: sent back, it is a link to that suite by id."""

    model_config = ConfigDict(extra="forbid")

    id: DbId
    name: IgnoredText | None = Field(default=None, description="Ignored: the id decides.")
    position: Position | None = None


TagIn = TagName | TagByName | TagById
SuiteLinkIn = SuiteLinkByName | SuiteLinkById


def links_of(suites: list[CaseSuiteIn]) -> list[SuiteLinkIn]:
    """The suite links that the ``suites`` of a case as read stand for."""
    return [SuiteLinkById(suite_id=suite.id, position=suite.position) for suite in suites]


class _CaseBody(BaseModel):
    """A case as a client writes it. Unknown fields are refused (a typo must not pass silently),
    but a case as read can be sent back: its read-only fields are ignored and its ``suites``
    become ``suite_links`` when no ``suite_links`` are given."""

    model_config = ConfigDict(extra="forbid")

    id: DbId | None = _ignored()
    version: int | None = _ignored(ge=1, le=MAX_ID)
    created_at: datetime | None = _ignored()
    updated_at: datetime | None = _ignored()
    is_deleted: bool | None = _ignored()
    deleted_at: datetime | None = _ignored()
    suites: list[CaseSuiteIn] | None = Field(
        default=None,
        max_length=200,
        description="The suites of a case as read: taken as `suite_links` by id when no "
        "`suite_links` are given, ignored otherwise.",
        json_schema_extra={"readOnly": True},
    )


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

    @model_validator(mode="after")
    def _suites_stand_for_links(self) -> TestCaseWrite:
        if self.suites is not None and "suite_links" not in self.model_fields_set:
            self.suite_links = links_of(self.suites)
        return self


class TestCasePatch(_CaseBody):
    """Only the fields present change; a collection present replaces the whole collection."""

    __test__ = False

    name: PatchName = None
    preconditions: LongText | None = None
    description: LongText | None = None
    expected_result: LongText | None = None
    steps: list[StepIn] | None = Field(default=None, max_length=1000)
    tags: list[TagIn] | None = Field(default=None, max_length=200)
    suite_links: list[SuiteLinkIn] | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _suites_stand_for_links(self) -> TestCasePatch:
        if self.suites is not None and "suite_links" not in self.model_fields_set:
            self.suite_links = links_of(self.suites)
        return self


class StepOut(BaseModel):
    id: int
    position: int
    action: str
    expected: str | None
    attachments: str | None


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
