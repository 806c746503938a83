from __future__ import annotations

from testops_kit.errors import Conflict, NotFound


class CaseNotFound(NotFound):
    code = "test_case_not_found"
    title = "Test case not found"


class CaseNameConflict(Conflict):
    code = "test_case_name_conflict"
    title = "Test case name conflict"
