from __future__ import annotations

from pydantic import BaseModel, Field

from testops_kit.schemas import Timestamp


class AuditActor(BaseModel):
    id: int | None = Field(description="The user's id; none for the local admin and token lines.")
    username: str | None = Field(
        description="The username then; `token:<name>` for a configured token line, "
        "`local-admin`, or the name a failed sign-in gave."
    )


class AuditEventOut(BaseModel):
    id: int
    at: Timestamp
    actor: AuditActor
    token_id: int | None = Field(description="The user's token the request came with.")
    project: str | None
    method: str
    path: str = Field(description="The route (`/api/v1/test-cases/{test_case_id}`).")
    action: str = Field(
        description="What was done: the operation's id (`create_test_case`), or `sign_in`, "
        "`sign_in_failed`, `sign_in_throttled`, `sign_out`."
    )
    resource: str | None = Field(description="The path as requested (`/api/v1/test-cases/12`).")
    status: int
    request_id: str | None
    ip: str | None
