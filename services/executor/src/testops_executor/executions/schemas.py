"""What /executions takes and returns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from testops_executor.models import Execution
from testops_executor.pipeline.checks import (
    PARAM_INT_LIMIT,
    PARAM_LIST_MAX,
    PARAM_TEXT_MAX,
    PYTEST_OPTIONS,
    check_branch,
    check_param_value,
    check_params,
    check_suite_name,
)
from testops_kit.schemas import MAX_ID, Timestamp, reject_nul

Status = Literal["pending", "running", "completed", "failed", "cancelled"]
Phase = Literal["cloning", "syncing", "testing", "uploading"]
Outcome = Literal["passed", "tests_failed", "no_tests", "error", "timed_out", "cancelled", "lost"]
FailureReason = Literal[
    "clone_failed",
    "sync_failed",
    "pytest_usage_error",
    "pytest_internal_error",
    "upload_failed",
    "timeout",
    "cancelled_by_user",
    "lease_expired",
]


_PARAM_SCALAR_SCHEMA: list[dict[str, Any]] = [
    {"type": "string", "maxLength": PARAM_TEXT_MAX},
    {"type": "integer", "minimum": -PARAM_INT_LIMIT, "maximum": PARAM_INT_LIMIT - 1},
    {"type": "number"},
    {"type": "boolean"},
]

ParamValue = Annotated[
    Any,
    AfterValidator(check_param_value),
    WithJsonSchema(
        {
            "anyOf": [
                *_PARAM_SCALAR_SCHEMA,
                {
                    "type": "array",
                    "items": {"anyOf": _PARAM_SCALAR_SCHEMA},
                    "maxItems": PARAM_LIST_MAX,
                },
            ]
        }
    ),
]
"""An option's value: text, a number or true/false, or a flat list of them (repeating it)."""


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(check_suite_name)] = (
        Field(description="Test path inside the repository: `tests/`, `tests/test_api.py::test_x`.")
    )
    params: dict[Annotated[str, StringConstraints(max_length=64)], ParamValue] = Field(
        default_factory=dict,
        max_length=len(PYTEST_OPTIONS),
        description=(
            'pytest options: `{"k": "login"}` → `-k login`, `{"maxfail": 5}` → '
            '`--maxfail=5`, `{"x": true}` → `-x`; a list repeats the option.'
        ),
    )

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_params(value)


class ExecutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    repo_url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(reject_nul)]
    branch: Annotated[
        str | None,
        Field(default=None, min_length=1, max_length=255),
        AfterValidator(lambda v: None if v is None else check_branch(v)),
    ] = None
    suite: Suite
    run_name: Annotated[
        str | None,
        Field(default=None, min_length=1, max_length=255),
        AfterValidator(lambda v: None if v is None else reject_nul(v)),
    ] = None
    timeout_s: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Overall limit, in seconds."
    )


class ExecutionSuite(BaseModel):
    name: str
    params: dict[str, Any]


class ExecutionOut(BaseModel):
    id: str
    status: Status
    outcome: Outcome | None
    failure_reason: FailureReason | None
    phase: Phase | None
    position: int | None = Field(description="Place in the queue while pending (1 = next).")
    repo_url: str
    branch: str | None
    commit: str | None
    suite: ExecutionSuite
    run_name: str
    timeout_s: int
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    exit_code: int | None
    error: str | None
    run_id: int | None
    log_size: int
    log_truncated: bool

    @classmethod
    def of(cls, execution: Execution, position: int | None = None) -> ExecutionOut:
        return cls.model_validate(
            {
                "id": execution.id,
                "status": execution.status,
                "outcome": execution.outcome,
                "failure_reason": execution.failure_reason,
                "phase": execution.phase,
                "position": position if execution.status == "pending" else None,
                "repo_url": execution.repo_url,
                "branch": execution.branch,
                "commit": execution.commit,
                "suite": {"name": execution.suite_name, "params": execution.suite_params or {}},
                "run_name": execution.run_name,
                "timeout_s": execution.timeout_s,
                "created_at": execution.created_at,
                "started_at": execution.started_at,
                "finished_at": execution.finished_at,
                "exit_code": execution.exit_code,
                "error": execution.error,
                "run_id": execution.run_id,
                "log_size": execution.log_size,
                "log_truncated": execution.log_truncated,
            }
        )
