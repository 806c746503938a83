from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from testops_gateway.roles import ProjectRole
from testops_kit.projects import PROJECT_KEY
from testops_kit.schemas import NOT_BLANK_PATTERN, Timestamp, reject_nul

ProjectKey = Annotated[
    str,
    Field(
        pattern=PROJECT_KEY.pattern,
        description="2–16 capital letters and digits, starting with a letter; never changes.",
        examples=["SHOP"],
    ),
]
ProjectName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(reject_nul),
    Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
]
Description = Annotated[str, Field(max_length=10_000), AfterValidator(reject_nul)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ProjectKey
    name: ProjectName
    description: Description | None = None


class ProjectUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    # Absent leaves it as it is; the document shows no null, which is refused.
    name: ProjectName | SkipJsonSchema[None] = None
    description: Description | None = None

    @model_validator(mode="after")
    def _name_is_not_null(self) -> ProjectUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class ProjectOut(BaseModel):
    key: str
    name: str
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp
    archived_at: Timestamp | None
    is_archived: bool
    role: str | None = Field(
        description="The caller's role in it: `viewer`, `editor`, `owner`, or `admin` for an "
        "instance admin who is not a member."
    )


class MemberPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ProjectRole


class MemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str | None
    kind: str
    is_active: bool
    role: str
    created_at: Timestamp
    updated_at: Timestamp
