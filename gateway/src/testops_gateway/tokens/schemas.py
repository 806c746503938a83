from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from testops_gateway.projects.schemas import ProjectKey
from testops_kit.schemas import NOT_BLANK_PATTERN, Timestamp, reject_nul

TokenScope = Literal["read", "write", "execute"]
TokenName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(reject_nul),
    Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN}, examples=["ci"]),
]


def _unique(scopes: list[TokenScope]) -> list[TokenScope]:
    return [scope for scope in ("read", "write", "execute") if scope in scopes]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName
    scopes: Annotated[
        list[TokenScope],
        Field(min_length=1, max_length=3, description="What the token may do, at most."),
        AfterValidator(_unique),
    ]
    project: ProjectKey | None = Field(
        default=None,
        description="The one project the token may act in (404 on every other); none: every "
        "project of its user.",
    )
    expires_at: Timestamp | None = Field(
        default=None, description="When the token stops working; none: when it is revoked."
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    scopes: list[str]
    project: str | None
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    created_at: Timestamp


class TokenCreated(TokenOut):
    token: str = Field(description="The secret, shown this once: the gateway keeps its hash only.")
