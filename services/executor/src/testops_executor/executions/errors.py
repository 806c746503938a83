"""Errors of /executions."""

from __future__ import annotations

from typing import ClassVar

from testops_kit.errors import Conflict, InvalidRequest, NotFound, TestOpsError


class ExecutionNotFound(NotFound):
    code = "execution_not_found"
    title = "Execution not found"


class RepoNotAllowed(InvalidRequest):
    code = "repo_not_allowed"
    title = "Repository not allowed"


class QueueFull(TestOpsError):
    status_code: ClassVar[int] = 429
    code = "queue_full"
    title = "Queue full"
    retry_after = 30


class ExecutionFinished(Conflict):
    code = "execution_finished"
    title = "Execution finished"
