"""What the gateway itself may answer to the operations it forwards, listed in each."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from testops_gateway.openapi.names import (
    GATEWAY_OWNER,
    JSON,
    REF_PREFIX,
    escape_pointer,
    free_name,
)
from testops_kit.errors import PROBLEM_CONTENT_TYPE, ErrorItem, Problem

# ------------------------------------------------------------------------ the gateway's own answers


@dataclass(frozen=True, slots=True)
class GatewayAnswer:
    """A response the gateway itself may give to any operation it forwards."""

    status: str
    name: str
    """Its name under ``components/responses``."""
    description: str
    headers: Mapping[str, JSON]
    upstream_only: bool = False
    """Only where a service answers behind the gateway (not its own routes)."""
    writes_only: bool = False
    """Only on operations that change something."""
    scoped_only: bool = False
    """Only on operations of a project's path (``/api/v1/projects/{project_key}/…``)."""


_CHALLENGE = {
    "description": 'The challenge, `Bearer realm="testops"`; on 401 with `error="invalid_token"` '
    'when the token given is not known, on 403 with `error="insufficient_scope"` and the '
    "`scope` needed.",
    "required": True,
    "schema": {"type": "string"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

GATEWAY_ANSWERS = (
    GatewayAnswer(
        "401",
        "Unauthenticated",
        "No credentials (`Authorization: Bearer <token>` or a session cookie), or ones the "
        "gateway does not know or that were revoked or expired (`unauthenticated`).",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    GatewayAnswer(
        "403",
        "Forbidden",
        "The caller's role in the project, within its token's scopes, lacks the scope this "
        "operation needs (`forbidden`): `read` for GET and HEAD, `execute` for POST "
        "/api/v1/executions…, `write` for the rest; or a write signed in by cookie came without "
        "its `X-CSRF-Token` (`csrf_failed`).",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    GatewayAnswer(
        "404",
        "ProjectNotFound",
        "No project of that key that the caller is a member of (`project_not_found`): a "
        "project the caller may not see is answered as one that does not exist.",
        {},
        scoped_only=True,
    ),
    GatewayAnswer(
        "409",
        "ProjectArchived",
        "The project is archived: it can be read, not changed (`project_archived`).",
        {},
        writes_only=True,
        scoped_only=True,
    ),
    GatewayAnswer(
        "429",
        "RateLimited",
        "The caller is over its rate limit (`rate_limited`); try again after `Retry-After` "
        "seconds.",
        {"Retry-After": _RETRY_AFTER},
    ),
    GatewayAnswer(
        "502",
        "UpstreamUnavailable",
        "The service behind the gateway cannot be reached (`upstream_unavailable`); try again "
        "after `Retry-After` seconds.",
        {"Retry-After": _RETRY_AFTER},
        upstream_only=True,
    ),
    GatewayAnswer(
        "504",
        "UpstreamTimeout",
        "The service behind the gateway did not answer in time (`upstream_timeout`).",
        {},
        upstream_only=True,
    ),
)
"""What the gateway answers on its own, before or instead of the service: every forwarded
operation of the merged document lists these."""


def _answer_response(answer: GatewayAnswer) -> JSON:
    response: JSON = {
        "description": answer.description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"{REF_PREFIX}schemas/Problem"}}},
    }
    if answer.headers:
        response["headers"] = copy.deepcopy(dict(answer.headers))
    return response


def add_gateway_answers(
    paths: JSON, forwarded: Iterable[tuple[str, str, str]], components: JSON
) -> None:
    """List :data:`GATEWAY_ANSWERS` in every ``forwarded`` operation (path, method, owner) they
    apply to: a reference to the answer under ``components/responses``, or, where the operation
    declares that status itself, a sentence added to its description."""
    responses: JSON = components.setdefault("responses", {})
    refs: dict[str, str] = {}
    for answer in GATEWAY_ANSWERS:
        response = _answer_response(answer)
        name = answer.name
        if responses.get(name, response) != response:
            name = free_name(f"Gateway{name}", set(responses))
        responses[name] = response
        refs[answer.status] = f"{REF_PREFIX}responses/{escape_pointer(name)}"
    components["responses"] = dict(sorted(responses.items()))
    schemas: JSON = components.setdefault("schemas", {})
    schemas.setdefault("Problem", _problem_schema())
    schemas.setdefault("ErrorItem", ErrorItem.model_json_schema())
    components["schemas"] = dict(sorted(schemas.items()))

    for path, method, owner in forwarded:
        operation = paths[path][method]
        declared: JSON = operation.setdefault("responses", {})
        for answer in GATEWAY_ANSWERS:
            if answer.upstream_only and owner == GATEWAY_OWNER:
                continue
            if answer.writes_only and method in ("get", "head"):
                continue
            if answer.scoped_only and "{project_key}" not in path:
                continue
            own = declared.get(answer.status)
            if own is None:
                declared[answer.status] = {"$ref": refs[answer.status]}
            elif "$ref" not in own:
                said = str(own.get("description", "")).rstrip(". ")
                own["description"] = f"{said}. From the gateway: {answer.description}".lstrip(". ")
        operation["responses"] = dict(sorted(declared.items()))


def _problem_schema() -> JSON:
    schema = Problem.model_json_schema(ref_template=REF_PREFIX + "schemas/{model}")
    schema.pop("$defs", None)
    return schema
