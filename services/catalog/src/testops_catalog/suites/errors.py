from __future__ import annotations

from testops_kit.errors import Conflict, InvalidRequest, NotFound


class SuiteNotFound(NotFound):
    code = "suite_not_found"
    title = "Suite not found"


class SuiteNameConflict(Conflict):
    code = "suite_name_conflict"
    title = "Suite name conflict"


class SuiteCycle(Conflict):
    code = "suite_cycle"
    title = "Suite cycle"


class ParentSuiteNotFound(InvalidRequest):
    code = "parent_suite_not_found"
    title = "Parent suite not found"


class SuiteCaseExists(Conflict):
    code = "suite_case_exists"
    title = "Test case already in suite"


class SuiteCaseNotFound(NotFound):
    code = "suite_case_not_found"
    title = "Test case not in suite"


class LinkedCaseNotFound(InvalidRequest):
    code = "test_case_not_found"
    title = "Test case not found"
