from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from testops_catalog.names import TagName


class TagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TagName


class TagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TagName


class TagRef(BaseModel):
    """A tag as shown on a test case."""

    id: int
    name: str


class TagOut(BaseModel):
    id: int
    name: str
    case_count: int
