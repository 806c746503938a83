from __future__ import annotations

from pydantic import BaseModel, Field

from testops_kit.schemas import Timestamp


class CaseAttachmentOut(BaseModel):
    id: int
    test_case_id: int
    filename: str = Field(description="The name the file was uploaded with, trimmed.")
    content_type: str = Field(
        description="The upload's `Content-Type`, else guessed from the name.",
        examples=["image/png"],
    )
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="Hex SHA-256 of the bytes; the content's `ETag`, quoted.")
    created_at: Timestamp
