from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from testops_catalog.names import LongText, Name, PatchName
from testops_kit.schemas import DbId, Position, Timestamp


class SuiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: LongText | None = None
    parent_id: DbId | None = Field(default=None, description="Parent suite; null for a root.")


class SuiteUpdate(BaseModel):
    """Only the fields present change; `parent_id: null` moves the suite to the root."""

    model_config = ConfigDict(extra="forbid")

    name: PatchName = None
    description: LongText | None = None
    parent_id: DbId | None = None


class SuiteOut(BaseModel):
    id: int
    name: str
    description: str | None
    parent_id: int | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    is_deleted: bool
    case_count: int = Field(description="Active test cases linked to this suite.")


class SuiteTree(SuiteOut):
    children: list[SuiteTree] = Field(description="Child suites, by name.")


class SuiteCaseAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_case_id: DbId
    position: Position | None = Field(
        default=None, description="Where to insert; default: after the last case."
    )


class SuiteCaseOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_case_ids: list[DbId] = Field(
        max_length=10_000, description="Every case of the suite, in order; others are unlinked."
    )


class SuiteCaseOut(BaseModel):
    suite_id: int
    test_case_id: int
    position: int
    name: str = Field(description="The test case's name.")
