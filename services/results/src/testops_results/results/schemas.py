"""What /runs/{id}/results, /results/{id} and /tests/{history_id}/history return."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from testops_kit.pagination import Page
from testops_kit.schemas import Timestamp
from testops_results.analytics.schemas import Flakiness

Status = Literal["failed", "broken", "passed", "skipped", "unknown"]


class ResultItem(BaseModel):
    id: int
    uuid: str
    history_id: str | None = Field(
        description="The test's identity across runs and retries, as the Allure 3 CLI computes "
        "it: test case id (ALLURE_ID label, testCaseId or fullName) and parameters."
    )
    test_case_id: int | None = Field(
        description="The catalog test case named by the result's `ALLURE_ID` label, if any."
    )
    name: str
    full_name: str | None
    status: Status
    message: str | None
    duration_ms: int | None
    is_retry: bool = Field(description="A retried attempt: a later result of the test counts.")
    flaky: bool


class HistoryItem(ResultItem):
    run_id: int
    run_name: str
    created_at: Timestamp


class HistoryPage(Page[HistoryItem]):
    flakiness: Flakiness = Field(
        description="How the test behaved over this page's results (`window` of them)."
    )


class StatusDetails(BaseModel):
    message: str | None
    trace: str | None
    flaky: bool = False
    muted: bool = False
    known: bool = False


class AttachmentRef(BaseModel):
    id: int | None = Field(description="Null when the file was not part of the upload.")
    name: str | None
    source: str | None
    content_type: str | None
    size: int | None


class Parameter(BaseModel):
    name: str
    value: str
    excluded: bool
    mode: str


class Label(BaseModel):
    name: str
    value: str


class Link(BaseModel):
    name: str | None
    url: str
    type: str | None


class StepDetails(BaseModel):
    message: str | None
    trace: str | None


class Step(BaseModel):
    name: str
    status: Status
    status_details: StepDetails
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_ms: int | None
    parameters: list[Parameter]
    steps: list[Step]
    attachments: list[AttachmentRef]


class Fixture(BaseModel):
    name: str
    status: Status
    status_details: StepDetails
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_ms: int | None
    steps: list[Step]
    attachments: list[AttachmentRef]


class ResultOut(ResultItem):
    run_id: int
    started_at: Timestamp | None
    finished_at: Timestamp | None
    status_details: StatusDetails
    description: str | None
    description_html: str | None
    labels: list[Label]
    parameters: list[Parameter]
    links: list[Link]
    steps: list[Step]
    attachments: list[AttachmentRef]
    befores: list[Fixture] = Field(description="Set-up fixtures of the containers around it.")
    afters: list[Fixture] = Field(description="Tear-down fixtures of the containers around it.")
