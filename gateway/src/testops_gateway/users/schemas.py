from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from testops_gateway.passwords import MAX_LENGTH, MIN_LENGTH
from testops_kit.schemas import Timestamp, reject_nul

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$"

InstanceRole = Literal["admin", "user"]
Kind = Literal["human", "service"]
Username = Annotated[
    str,
    Field(
        pattern=USERNAME_PATTERN,
        description="1–64 letters, digits, `.`, `_`, `@`, `+`, `-`, starting with a letter or "
        "digit; case does not matter (kept in lower case).",
        examples=["alice"],
    ),
    AfterValidator(str.lower),
]
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=255),
    AfterValidator(reject_nul),
]
Email = Annotated[
    str,
    # The whitespace named, not `\s`: JSON Schema's regular expressions and Python's differ on it.
    StringConstraints(
        strip_whitespace=True, max_length=255, pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+$"
    ),
]
Password = Annotated[
    SecretStr,
    Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=f"{MIN_LENGTH}–{MAX_LENGTH} characters; stored only as its Argon2id hash.",
    ),
]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: DisplayName | None = None
    email: Email | None = None
    password: Password | None = Field(
        default=None,
        description="Lets the user sign in; a service account has none (it uses tokens).",
    )
    instance_role: InstanceRole = "user"
    kind: Kind = "human"

    @model_validator(mode="after")
    def _service_accounts_have_no_password(self) -> UserCreate:
        if self.kind == "service" and self.password is not None:
            raise ValueError("a service account signs in with tokens, never with a password")
        return self


class UserUpdate(BaseModel):
    """Only the fields present change; `is_active: true` reactivates a deactivated user (its
    old tokens and sessions stay revoked)."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    email: Email | None = None
    password: Password | None = None
    # Absent leaves them as they are; the document shows no null, which is refused.
    instance_role: InstanceRole | SkipJsonSchema[None] = None
    is_active: StrictBool | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> UserUpdate:
        for name in ("instance_role", "is_active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str | None
    email: str | None
    instance_role: InstanceRole
    kind: Kind
    is_active: bool
    has_password: bool
    created_at: Timestamp
    updated_at: Timestamp
    deactivated_at: Timestamp | None


class MeProject(BaseModel):
    key: str
    name: str
    role: str


class MeOut(BaseModel):
    id: int | None = Field(description="None for the built-in local admin and token lines.")
    username: str
    display_name: str | None
    email: str | None
    instance_role: InstanceRole
    kind: Literal["human", "service", "builtin"] = Field(
        description="`builtin`: the local admin, or a token configured in the gateway's settings."
    )
    projects: list[MeProject] = Field(
        description="The projects the caller acts in (every active one for an instance admin)."
    )
