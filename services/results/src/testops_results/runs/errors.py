"""Errors of /runs."""

from __future__ import annotations

from testops_kit.errors import NotFound


class RunNotFound(NotFound):
    code = "run_not_found"
    title = "Run not found"
