"""The merge of the services' documents (and the gateway's own) into one."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from testops_gateway.openapi.answers import add_gateway_answers
from testops_gateway.openapi.names import (
    BEARER_SCHEME,
    COMPONENT_KINDS,
    GATEWAY_OWNER,
    GATEWAY_TAG,
    HTTP_METHODS,
    JSON,
    OPENAPI_VERSION,
    REF_PREFIX,
    components_of,
    free_name,
    operations_of,
    plan_components,
    rewrite_refs,
    service_paths,
    snake_case,
    unescape_pointer,
)

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
    renames = plan_components(documents, report)

    # Paths, with every $ref rewritten for the service they come from.
    paths: JSON = {}
    path_owner: dict[tuple[str, str], str] = {}
    for service, document in documents.items():
        for path, item in service_paths(document):
            rewritten = rewrite_refs(item, renames[service])
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
        for _, operation in operations_of(paths[path]):
            operation.setdefault("security", [])

    _unique_operation_ids(paths, path_owner, report)

    # Components.
    components: JSON = {}
    for kind in COMPONENT_KINDS:
        merged: JSON = {}
        for service, document in documents.items():
            for name, value in components_of(document, kind).items():
                new = renames[service].get((kind, name), name)
                merged.setdefault(new, rewrite_refs(value, renames[service]))
        if merged:
            components[kind] = dict(sorted(merged.items()))
    add_gateway_answers(
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
                if target.startswith(REF_PREFIX):
                    parts = target[len(REF_PREFIX) :].split("/")
                    if len(parts) >= 2:
                        yield parts[0], unescape_pointer(parts[1])
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
        for method, operation in operations_of(item):
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
        new = free_name(old, used) if old in used else old
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
        for _, operation in operations_of(item):
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
        for _, item in service_paths(document):
            for _, operation in operations_of(item):
                for name in operation.get("tags", []):
                    add({"name": name}, service)
    for item in gateway_paths.values():
        for _, operation in operations_of(item):
            for name in operation.get("tags", []):
                add(GATEWAY_TAG if name == GATEWAY_TAG["name"] else {"name": name}, GATEWAY_OWNER)
    return list(tags.values())
