"""Schemathesis hooks of the API fuzz test (``tests/e2e/schemathesis.toml`` loads them).

Each hook narrows what is generated for a reason the OpenAPI document cannot express; none of
them hides an answer: every request still goes out and every check still runs on it.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.mutations import OperatorKind
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

DEFAULT_PROJECT = "DEFAULT"
"""The project the fuzz run acts in."""
UNREACHABLE_REPOSITORY = "https://example.invalid/team/app.git"
"""A repository every executor setting allows (https) on a host that can never resolve
(RFC 6761): an execution the fuzzer queues fails at once at its clone, never fetches anything."""


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    """Schema-valid (positive) requests, adjusted where validity depends on more than the schema:

    - ``cursor``: a page cursor is valid only when the service issued it for that listing and
      ordering (made-up ones are 422 ``invalid_cursor``); positive requests ask for a first page.
    - ``project_key``: the fuzz run's token acts in ``DEFAULT``; any other key that fits the
      pattern is a project that does not exist (404 ``project_not_found``), where every
      example would be spent on the same answer.
    - ``repo_url`` of ``POST /executions``: which repositories may be cloned is the executor's
      setting (``ALLOWED_REPO_SCHEMES``/``HOSTS``, 422 ``repo_not_allowed``), and an arbitrary
      URL would be cloned for real; positive requests name :data:`UNREACHABLE_REPOSITORY`.

    Negative (schema-violating) requests are left as generated.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
    if isinstance(case.path_parameters, dict) and "project_key" in case.path_parameters:
        case.path_parameters["project_key"] = DEFAULT_PROJECT
    operation = case.operation
    if (
        operation.method.upper() == "POST"
        and operation.path == "/api/v1/projects/{project_key}/executions"
        and isinstance(case.body, dict)
    ):
        case.body["repo_url"] = UNREACHABLE_REPOSITORY
    return case


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext, failure: Any, case: Any, response: Any
) -> bool:
    """Keep every failure but "schema-violating request accepted" for a multipart body whose only
    violation is a part's type (a number for a text field, a number for a file).

    Every part of a multipart body is text or bytes on the wire: the integer 0 sent for
    `build_report` arrives as the text "0", a valid spelling of false, and a number sent for a
    file arrives as a file holding its digits. The service cannot tell, so it cannot refuse.
    The fuzzer is told about such dropped failures in its summary.
    """
    if not isinstance(failure, AcceptedNegativeData) or case.media_type != "multipart/form-data":
        return True
    data = case.meta.phase.data if case.meta is not None else None
    if isinstance(data, CoveragePhaseData):
        return not (
            data.scenario == CoverageScenario.INCORRECT_TYPE
            and data.parameter_location == ParameterLocation.BODY
        )
    mutations = getattr(data, "mutations", ())
    return not (
        mutations
        and all(
            mutation.operator == OperatorKind.CHANGE_TYPE
            and mutation.parameter_location == ParameterLocation.BODY
            for mutation in mutations
        )
    )
