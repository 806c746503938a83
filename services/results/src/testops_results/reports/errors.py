"""Errors of /runs/{id}/report."""

from __future__ import annotations

from testops_kit.errors import NotFound


class ReportFileNotFound(NotFound):
    code = "report_file_not_found"
    title = "Report file not found"
