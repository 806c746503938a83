"""The names a merged document is made of: constants, `$ref` rewriting, and the planning
of components' and operations' names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

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
REF_PREFIX = "#/components/"

# (component kind, original name) -> new name, for one service.
Renames = dict[tuple[str, str], str]


# --------------------------------------------------------------------------------- $ref rewriting


def unescape_pointer(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def rewrite_ref(ref: str, renames: Renames) -> str:
    if not ref.startswith(REF_PREFIX):
        return ref
    parts = ref[len(REF_PREFIX) :].split("/")
    if len(parts) < 2:
        return ref
    new = renames.get((parts[0], unescape_pointer(parts[1])))
    if new is None:
        return ref
    return REF_PREFIX + "/".join([parts[0], escape_pointer(new), *parts[2:]])


def rewrite_refs(node: Any, renames: Renames) -> Any:
    """A deep copy of ``node`` with every component ``$ref`` (and discriminator mapping) that
    ``renames`` names pointed at the new name."""
    if isinstance(node, dict):
        out: JSON = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = rewrite_ref(value, renames)
            elif (
                key == "discriminator"
                and isinstance(value, dict)
                and isinstance(value.get("mapping"), dict)
            ):
                out[key] = {
                    **rewrite_refs(value, renames),
                    "mapping": {
                        tag: rewrite_ref(target, renames) if isinstance(target, str) else target
                        for tag, target in value["mapping"].items()
                    },
                }
            else:
                out[key] = rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [rewrite_refs(item, renames) for item in node]
    return node


def canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------------- planning names


def pascal_case(name: str) -> str:
    """``"catalog"`` → ``"Catalog"``, ``"test-runner"`` → ``"TestRunner"``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


def snake_case(name: str) -> str:
    """``"test-runner"`` → ``"test_runner"``: the operationId prefix of a service."""
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()


def components_of(document: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    section = document.get("components", {}).get(kind, {})
    return section if isinstance(section, Mapping) else {}


def plan_components(
    documents: Mapping[str, Mapping[str, Any]], report: list[str]
) -> dict[str, Renames]:
    """The component renames of each service: shared names whose content differs."""
    renames: dict[str, Renames] = {service: {} for service in documents}
    owners: dict[tuple[str, str], list[str]] = {}
    for kind in COMPONENT_KINDS:
        for service, document in documents.items():
            for name in components_of(document, kind):
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
                canonical(rewrite_refs(components_of(documents[s], kind)[name], renames[s]))
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
                new = free_name(f"{pascal_case(service)}{name}", taken[kind])
                taken[kind].add(new)
                renames[service][key] = new
                assigned.append(f"{service} -> {new}")
            report.append(f"components/{kind}/{name} differs: {', '.join(assigned)}")


def free_name(candidate: str, taken: set[str]) -> str:
    if candidate not in taken:
        return candidate
    number = 2
    while f"{candidate}{number}" in taken:
        number += 1
    return f"{candidate}{number}"


def operations_of(path_item: Mapping[str, Any]) -> Iterator[tuple[str, JSON]]:
    for method in HTTP_METHODS:
        operation = path_item.get(method)
        if isinstance(operation, dict):
            yield method, operation


def service_paths(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for path, item in document.get("paths", {}).items():
        if path == SERVICE_PATH_PREFIX or path.startswith(SERVICE_PATH_PREFIX + "/"):
            yield path, item
