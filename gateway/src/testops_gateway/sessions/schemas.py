from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=256)
    password: SecretStr = Field(min_length=1, max_length=1024)
