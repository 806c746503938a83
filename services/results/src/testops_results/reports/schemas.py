"""What /runs/{id}/report returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from testops_results.models import ReportBuild

ReportStatus = Literal["none", "pending", "building", "ready", "failed"]


def report_url(root: str, run_id: int, build: ReportBuild) -> str | None:
    """Where the run's served report is read (its ``index.html``), if a build has been ready,
    under ``root`` (``/api/v1`` or ``/api/v1/projects/{key}``: the form the request used).

    Never stored: a report's files are the same whichever form serves them (they refer to each
    other by relative paths), so its URL is made for each answer."""
    if build.served_key is None:
        return None
    return f"{root}/runs/{run_id}/report/index.html"


class ReportOut(BaseModel):
    status: ReportStatus = Field(
        description="`none` (never asked for), `pending`, `building`, `ready` or `failed`."
    )
    url: str | None = Field(
        description=(
            "The `index.html` of the report served now: the last build that was `ready` — also "
            "while a newer build is `pending` or `building`, or after one `failed`; null until a "
            "build has been ready."
        )
    )
    error: str | None = Field(
        description="Why the build failed: for the Allure CLI, the last lines of its output."
    )
    code: str | None = Field(
        description=(
            "What failed: `allure_cli_missing`, `allure_cli_failed`, `allure_cli_timeout`, "
            "`build_lost` (its process died twice) or `build_error`."
        )
    )

    @classmethod
    def of(cls, run_id: int, build: ReportBuild | None, *, root: str) -> ReportOut:
        """The state of the run's report, its URL under ``root`` (see :func:`report_url`)."""
        if build is None:
            return cls(status="none", url=None, error=None, code=None)
        return cls(
            status=build.status,
            url=report_url(root, run_id, build),
            error=build.error,
            code=build.error_code,
        )
