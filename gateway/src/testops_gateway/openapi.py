"""One OpenAPI 3.1 document for the gateway, merged from the services' own documents.

Paths are the same on the services and on the gateway (``/api/v1/...``), so they are copied as
they are; what needs care is everything that is named:

- ``components`` (schemas, responses, parameters, ...): a name several services define with the
  same content is kept once; a name whose content differs is prefixed with the service's name in
  PascalCase in *every* service that defines it (``CatalogAttachmentOut``,
  ``ResultsAttachmentOut``), and every ``$ref`` of that service (paths and components alike,
  however deep, and discriminator mappings) is rewritten. "Same content" is judged after the
  renames: two textually equal schemas that point at a renamed schema (``Page_AttachmentOut_``)
  are different schemas, and are renamed in turn, until nothing changes.
- ``operationId``: an id used by more than one service gets the service's prefix
  (``catalog_list_things``) in each of them; the gateway's own ids are never renamed.
- tags: the services' tags in service order, each name once (the first description wins), then
  the gateway's; a tag no operation uses is dropped.
- answers: every operation the gateway forwards also lists what the gateway itself may answer
  (:data:`GATEWAY_ANSWERS`: 401, 403, 429, 502, 504, problem+json with their headers), as
  references to ``components/responses``.

Only ``/api/v1`` paths are taken from the services (their ``/healthz`` and ``/readyz`` are the
gateway's own business), and so only the components those paths lead to.

:func:`merge_documents` is pure (its inputs are not modified); :func:`merge_with_report` also
says, one line per clash in a stable order, what was renamed. :class:`OpenAPIDocument` keeps the
merged document of whatever services answered, and rebuilds it when one was missing or it has
grown old.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testops_kit.errors import PROBLEM_CONTENT_TYPE, ErrorItem, Problem
from testops_kit.logging import get_logger

log = get_logger(__name__)

JSON = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
SERVICE_PATH_PREFIX = "/api/v1"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
    "pathItems",
)
BEARER_SCHEME = "bearerAuth"
GATEWAY_OWNER = "gateway"
GATEWAY_TAG: JSON = {
    "name": "gateway",
    "description": "The gateway's own operational endpoints: liveness, readiness of every "
    "service behind it, and Prometheus metrics. They need no token.",
}
_REF_PREFIX = "#/components/"

# (component kind, original name) -> new name, for one service.
Renames = dict[tuple[str, str], str]


# --------------------------------------------------------------------------- the gateway's paths


def gateway_operations() -> JSON:
    """The path items of the gateway's own endpoints (``/healthz``, ``/readyz``, ``/metrics``),
    ready to be passed as ``gateway_paths``; each call returns a new, independent dict."""
    readiness = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "description": "One entry per service behind the gateway: `ok`, or why it is "
                "not ready.",
                "additionalProperties": {"type": "string"},
            },
        },
        "required": ["status", "checks"],
    }
    return {
        "/healthz": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "The gateway process is alive",
                "description": "Answers as long as the gateway runs, whatever the services do.",
                "operationId": "gateway_healthz",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Alive.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"type": "string", "const": "ok"}},
                                    "required": ["status"],
                                },
                                "example": {"status": "ok"},
                            }
                        },
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "Every service behind the gateway is ready",
                "description": "Asks each service's own `/readyz`; 503 when any of them is not "
                "ready or does not answer, saying which and why.",
                "operationId": "gateway_readyz",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Every service is ready.",
                        "content": {
                            "application/json": {
                                "schema": readiness,
                                "example": {
                                    "status": "ready",
                                    "checks": {"catalog": "ok", "results": "ok", "executor": "ok"},
                                },
                            }
                        },
                    },
                    "503": {
                        "description": "A service is not ready or does not answer.",
                        "content": {
                            "application/json": {
                                "schema": copy.deepcopy(readiness),
                                "example": {
                                    "status": "not_ready",
                                    "checks": {
                                        "catalog": "ok",
                                        "results": "connection refused",
                                        "executor": "ok",
                                    },
                                },
                            }
                        },
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": [GATEWAY_TAG["name"]],
                "summary": "Prometheus metrics of the gateway",
                "description": "Metrics in the Prometheus text exposition format.",
                "operationId": "gateway_metrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The metrics, in the Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


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
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"{_REF_PREFIX}schemas/Problem"}}},
    }
    if answer.headers:
        response["headers"] = copy.deepcopy(dict(answer.headers))
    return response


def _add_gateway_answers(
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
            name = _free_name(f"Gateway{name}", set(responses))
        responses[name] = response
        refs[answer.status] = f"{_REF_PREFIX}responses/{_escape(name)}"
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
    schema = Problem.model_json_schema(ref_template=_REF_PREFIX + "schemas/{model}")
    schema.pop("$defs", None)
    return schema


# --------------------------------------------------------------------------------- $ref rewriting


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _rewrite_ref(ref: str, renames: Renames) -> str:
    if not ref.startswith(_REF_PREFIX):
        return ref
    parts = ref[len(_REF_PREFIX) :].split("/")
    if len(parts) < 2:
        return ref
    new = renames.get((parts[0], _unescape(parts[1])))
    if new is None:
        return ref
    return _REF_PREFIX + "/".join([parts[0], _escape(new), *parts[2:]])


def _rewrite(node: Any, renames: Renames) -> Any:
    """A deep copy of ``node`` with every component ``$ref`` (and discriminator mapping) that
    ``renames`` names pointed at the new name."""
    if isinstance(node, dict):
        out: JSON = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _rewrite_ref(value, renames)
            elif (
                key == "discriminator"
                and isinstance(value, dict)
                and isinstance(value.get("mapping"), dict)
            ):
                out[key] = {
                    **_rewrite(value, renames),
                    "mapping": {
                        tag: _rewrite_ref(target, renames) if isinstance(target, str) else target
                        for tag, target in value["mapping"].items()
                    },
                }
            else:
                out[key] = _rewrite(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite(item, renames) for item in node]
    return node


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------------- planning names


def pascal_case(name: str) -> str:
    """``"catalog"`` → ``"Catalog"``, ``"test-runner"`` → ``"TestRunner"``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


def snake_case(name: str) -> str:
    """``"test-runner"`` → ``"test_runner"``: the operationId prefix of a service."""
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()


def _components(document: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    section = document.get("components", {}).get(kind, {})
    return section if isinstance(section, Mapping) else {}


def _plan_components(
    documents: Mapping[str, Mapping[str, Any]], report: list[str]
) -> dict[str, Renames]:
    """The component renames of each service: shared names whose content differs."""
    renames: dict[str, Renames] = {service: {} for service in documents}
    owners: dict[tuple[str, str], list[str]] = {}
    for kind in COMPONENT_KINDS:
        for service, document in documents.items():
            for name in _components(document, kind):
                owners.setdefault((kind, name), []).append(service)
    shared = sorted(
        (key for key, services in owners.items() if len(services) > 1),
        key=lambda key: (COMPONENT_KINDS.index(key[0]), key[1]),
    )
    taken: dict[str, set[str]] = {kind: set() for kind in COMPONENT_KINDS}
    for kind, name in owners:
        taken[kind].add(name)
    clashing: set[tuple[str, str]] = set()
    while True:
        found = []
        for key in shared:
            if key in clashing:
                continue
            kind, name = key
            variants = {
                _canonical(_rewrite(_components(documents[s], kind)[name], renames[s]))
                for s in owners[key]
            }
            if len(variants) > 1:
                found.append(key)
        if not found:
            return renames
        for key in found:  # in the order of `shared`: the names are stable
            kind, name = key
            clashing.add(key)
            assigned = []
            for service in owners[key]:
                new = _free_name(f"{pascal_case(service)}{name}", taken[kind])
                taken[kind].add(new)
                renames[service][key] = new
                assigned.append(f"{service} -> {new}")
            report.append(f"components/{kind}/{name} differs: {', '.join(assigned)}")


def _free_name(candidate: str, taken: set[str]) -> str:
    if candidate not in taken:
        return candidate
    number = 2
    while f"{candidate}{number}" in taken:
        number += 1
    return f"{candidate}{number}"


def _operations(path_item: Mapping[str, Any]) -> Iterator[tuple[str, JSON]]:
    for method in HTTP_METHODS:
        operation = path_item.get(method)
        if isinstance(operation, dict):
            yield method, operation


def _service_paths(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for path, item in document.get("paths", {}).items():
        if path == SERVICE_PATH_PREFIX or path.startswith(SERVICE_PATH_PREFIX + "/"):
            yield path, item


# ---------------------------------------------------------------------------------------- merge


def merge_documents(
    documents: Mapping[str, dict[str, Any]],
    *,
    title: str,
    version: str,
    description: str,
    servers: list[dict[str, str]],
    gateway_paths: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One OpenAPI 3.1 document of every ``/api/v1`` path of ``documents`` (service name →
    that service's document, in the order tags and paths are listed) and of ``gateway_paths``
    (the gateway's own path items, served with ``security: []``)."""
    document, _ = merge_with_report(
        documents,
        title=title,
        version=version,
        description=description,
        servers=servers,
        gateway_paths=gateway_paths,
    )
    return document


def merge_with_report(
    documents: Mapping[str, dict[str, Any]],
    *,
    title: str,
    version: str,
    description: str,
    servers: list[dict[str, str]],
    gateway_paths: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """:func:`merge_documents`, and one line per clash it resolved (renamed components and
    operationIds, paths or tags defined twice), in a stable order."""
    report: list[str] = []
    renames = _plan_components(documents, report)

    # Paths, with every $ref rewritten for the service they come from.
    paths: JSON = {}
    path_owner: dict[tuple[str, str], str] = {}
    for service, document in documents.items():
        for path, item in _service_paths(document):
            rewritten = _rewrite(item, renames[service])
            merged_item = paths.setdefault(path, {})
            for key, value in rewritten.items():
                if key not in HTTP_METHODS:
                    merged_item.setdefault(key, value)
                elif (path, key) in path_owner:
                    report.append(
                        f"path {key.upper()} {path}: defined by {path_owner[path, key]} and "
                        f"{service}; {path_owner[path, key]}'s kept"
                    )
                else:
                    merged_item[key] = value
                    path_owner[path, key] = service
    for path, item in (gateway_paths or {}).items():
        if path in paths:
            report.append(f"path {path}: the gateway's own replaces the services'")
            for method in HTTP_METHODS:
                path_owner.pop((path, method), None)
        paths[path] = copy.deepcopy(item)
        for _, operation in _operations(paths[path]):
            operation.setdefault("security", [])

    _unique_operation_ids(paths, path_owner, report)

    # Components.
    components: JSON = {}
    for kind in COMPONENT_KINDS:
        merged: JSON = {}
        for service, document in documents.items():
            for name, value in _components(document, kind).items():
                new = renames[service].get((kind, name), name)
                merged.setdefault(new, _rewrite(value, renames[service]))
        if merged:
            components[kind] = dict(sorted(merged.items()))
    _add_gateway_answers(
        paths,
        sorted((path, method, owner) for (path, method), owner in path_owner.items()),
        components,
    )
    _drop_unreferenced(paths, components)
    components["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A token the gateway was configured with: "
            "`Authorization: Bearer <token>`. GET and HEAD need the `read` scope, other "
            "methods `write`, `POST /api/v1/executions…` `execute`; `admin` may do all of it.",
        }
    }

    result: JSON = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "servers": copy.deepcopy(servers),
        "security": [{BEARER_SCHEME: []}],
        "tags": _merge_tags(documents, paths, gateway_paths or {}, report),
        "paths": paths,
        "components": components,
    }
    return result, report


def _component_refs(node: Any) -> Iterator[tuple[str, str]]:
    """The ``(kind, name)`` of every component ``node`` points at (``$ref`` and discriminator
    mappings)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                targets = [value]
            elif key == "discriminator" and isinstance(value, dict):
                targets = [v for v in value.get("mapping", {}).values() if isinstance(v, str)]
            else:
                yield from _component_refs(value)
                continue
            for target in targets:
                if target.startswith(_REF_PREFIX):
                    parts = target[len(_REF_PREFIX) :].split("/")
                    if len(parts) >= 2:
                        yield parts[0], _unescape(parts[1])
    elif isinstance(node, list):
        for item in node:
            yield from _component_refs(item)


def _drop_unreferenced(paths: JSON, components: JSON) -> None:
    """Remove the components nothing in ``paths`` leads to, such as the schemas of the services'
    own health endpoints, which are not part of the merged document."""
    reached: set[tuple[str, str]] = set()
    pending = list(_component_refs(paths))
    while pending:
        key = pending.pop()
        if key in reached:
            continue
        reached.add(key)
        kind, name = key
        if name in components.get(kind, {}):
            pending.extend(_component_refs(components[kind][name]))
    for kind in list(components):
        kept = {name: value for name, value in components[kind].items() if (kind, name) in reached}
        if kept:
            components[kind] = kept
        else:
            del components[kind]


def _unique_operation_ids(
    paths: JSON, path_owner: dict[tuple[str, str], str], report: list[str]
) -> None:
    """Prefix an operationId used by several owners with each service's name; then make any
    that is still taken unique with a number."""
    found: list[tuple[str, JSON]] = []  # (owner, operation), in document order
    for path, item in paths.items():
        for method, operation in _operations(item):
            if "operationId" in operation:
                found.append((path_owner.get((path, method), GATEWAY_OWNER), operation))
    owners: dict[str, list[str]] = {}
    for owner, operation in found:
        owners.setdefault(operation["operationId"], []).append(owner)
    renamed: dict[str, list[str]] = {}
    for owner, operation in found:
        old = operation["operationId"]
        if len(set(owners[old])) > 1 and owner != GATEWAY_OWNER:
            operation["operationId"] = f"{snake_case(owner)}_{old}"
            renamed.setdefault(old, []).append(f"{owner} -> {operation['operationId']}")
    used: set[str] = set()
    for owner, operation in found:
        old = operation["operationId"]
        new = _free_name(old, used) if old in used else old
        if new != old:
            operation["operationId"] = new
            renamed.setdefault(old, []).append(f"{owner} -> {new}")
        used.add(new)
    for old in sorted(renamed):
        report.append(f"operationId {old} is used twice: {', '.join(renamed[old])}")


def _merge_tags(
    documents: Mapping[str, Mapping[str, Any]],
    paths: JSON,
    gateway_paths: Mapping[str, Any],
    report: list[str],
) -> list[JSON]:
    used: set[str] = set()
    for item in paths.values():
        for _, operation in _operations(item):
            used.update(operation.get("tags", []))

    tags: dict[str, JSON] = {}
    declared_by: dict[str, str] = {}

    def add(tag: JSON, owner: str) -> None:
        name = tag["name"]
        if name not in used:
            return
        if name not in tags:
            tags[name] = copy.deepcopy(tag)
            declared_by[name] = owner
        elif tag.get("description") and tag != tags[name]:
            if not tags[name].get("description"):
                tags[name] = {**tags[name], **copy.deepcopy(tag)}
                return
            report.append(
                f"tag {name}: described by {declared_by[name]} and {owner}; "
                f"{declared_by[name]}'s kept"
            )

    for service, document in documents.items():
        for tag in document.get("tags", []):
            add(tag, service)
        for _, item in _service_paths(document):
            for _, operation in _operations(item):
                for name in operation.get("tags", []):
                    add({"name": name}, service)
    for item in gateway_paths.values():
        for _, operation in _operations(item):
            for name in operation.get("tags", []):
                add(GATEWAY_TAG if name == GATEWAY_TAG["name"] else {"name": name}, GATEWAY_OWNER)
    return list(tags.values())


# ----------------------------------------------------------------------------- the cached document


class OpenAPIDocument:
    """The gateway's merged document, cached.

    ``fetch(name)`` returns a service's document, or None when that service cannot give it now.
    :meth:`get` answers the cached document while every service is in it and it is younger than
    ``ttl_s``; otherwise it fetches every service again (concurrently; callers that come
    meanwhile wait for the same rebuild), at most once per ``retry_after_s``. A service that does
    not answer a re-fetch keeps the document it gave last time; one that never gave any is
    :attr:`missing`, and the document's description says so.

    The returned dict is shared by every caller: do not modify it.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[str], Awaitable[dict[str, Any] | None]],
        services: Sequence[str],
        title: str,
        version: str,
        description: str,
        servers: list[dict[str, str]],
        retry_after_s: float = 2.0,
        ttl_s: float = 60.0,
        gateway_paths: dict[str, Any] | None = None,
        own_document: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``gateway_paths`` defaults to :func:`gateway_operations`; pass ``{}`` for none.
        ``own_document`` gives the document of the gateway's own API routes (identity), merged
        like a service's."""
        self._fetch = fetch
        self._services = tuple(services)
        self._title = title
        self._version = version
        self._description = description
        self._servers = servers
        self._retry_after_s = retry_after_s
        self._ttl_s = ttl_s
        self._gateway_paths = gateway_operations() if gateway_paths is None else gateway_paths
        self._own_document = own_document
        self._lock = asyncio.Lock()
        self._known: dict[str, dict[str, Any]] = {}
        self._document: dict[str, Any] | None = None
        self._built_at = 0.0
        self._attempted_at: float | None = None
        self._clashes: tuple[str, ...] = ()

    @property
    def missing(self) -> frozenset[str]:
        """The services whose paths are not in the document (none was ever fetched)."""
        return frozenset(s for s in self._services if s not in self._known)

    @property
    def clashes(self) -> tuple[str, ...]:
        """What the last merge renamed, one line per clash (see :func:`merge_with_report`)."""
        return self._clashes

    def _fresh(self) -> bool:
        return (
            self._document is not None
            and not self.missing
            and time.monotonic() - self._built_at < self._ttl_s
        )

    def _throttled(self) -> bool:
        return (
            self._document is not None
            and self._attempted_at is not None
            and time.monotonic() - self._attempted_at < self._retry_after_s
        )

    async def get(self) -> dict[str, Any]:
        """The merged document (see the class)."""
        if self._document is not None and (self._fresh() or self._throttled()):
            return self._document
        async with self._lock:
            if self._document is not None and (self._fresh() or self._throttled()):
                return self._document
            self._attempted_at = time.monotonic()
            fetched = await asyncio.gather(*(self._fetch_one(s) for s in self._services))
            for service, document in zip(self._services, fetched, strict=True):
                if document is not None:
                    self._known[service] = document
            self._document = self._merge()
            self._built_at = time.monotonic()
            return self._document

    async def _fetch_one(self, service: str) -> dict[str, Any] | None:
        try:
            return await self._fetch(service)
        except Exception as exc:  # a fetch that fails is a service that cannot answer now
            log.warning("openapi_fetch_failed", service=service, error=repr(exc))
            return None

    def _merge(self) -> dict[str, Any]:
        description = self._description
        missing = [s for s in self._services if s not in self._known]
        if missing:
            note = f"Not available now: {', '.join(missing)} (their paths are not listed)."
            description = f"{description}\n\n{note}" if description else note
        documents = {s: self._known[s] for s in self._services if s in self._known}
        if self._own_document is not None:
            documents[GATEWAY_OWNER] = self._own_document()
        document, clashes = merge_with_report(
            documents,
            title=self._title,
            version=self._version,
            description=description,
            servers=self._servers,
            gateway_paths=self._gateway_paths,
        )
        if tuple(clashes) != self._clashes:
            self._clashes = tuple(clashes)
            for line in clashes:
                log.info("openapi_merge_clash", clash=line)
        return document
