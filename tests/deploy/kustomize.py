"""A small renderer of the part of kustomize the manifests in ``deploy/kubernetes`` use, so that
the tests can check what ``kubectl apply -k`` would send without a kustomize binary::

    resources = render(Path("deploy/kubernetes/overlays/production"))

It reads ``kustomization.yaml`` and implements these fields, in kustomize's order:

- ``resources``: YAML files (one or more documents each) and folders holding a kustomization;
- ``configMapGenerator`` / ``secretGenerator`` entries with ``name``, ``literals``, ``envs`` and
  ``behavior`` (``create`` or ``merge``), ``secretGenerator`` entries with ``files`` too (``path``
  or ``key=path``, inside the kustomization's folder; the key defaults to the file's name), and
  ``generatorOptions.labels``; a key given twice in one entry is an error, as in kustomize; a
  generated name gets kustomize's content-hash suffix and the references to it in pod specs
  follow. A secret's env file or file that is missing is read from its ``.example`` beside it
  (the real one is never committed);
- ``patches``: JSON 6902 operations (``add``, ``replace``, ``remove``) on a ``kind``/``name``;
- ``namespace``, ``labels`` (``pairs``, ``includeTemplates``), ``replicas``, ``images``.

Anything else — an unknown field, a strategic-merge patch, a ConfigMap made of ``files``, a pod
spec in a kind it does not follow — raises :class:`UnsupportedKustomization`, so the manifests
cannot use a feature the checks would silently skip. It is stricter than kustomize in one way: a
patch, replica count, image or merge that matches nothing is an error too.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "namespace",
        "labels",
        "images",
        "replicas",
        "configMapGenerator",
        "secretGenerator",
        "generatorOptions",
        "patches",
    }
)
POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
"""Kinds whose pod spec is at ``spec.template.spec`` (the only place this renderer looks)."""
OTHER_POD_KINDS = frozenset({"Pod", "PodTemplate", "CronJob"})
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
CLUSTER_SCOPED_KINDS = frozenset({"Namespace"})
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")
"""A key of a ConfigMap's or a Secret's data."""


class UnsupportedKustomization(ValueError):
    """The kustomization asks for something this renderer does not implement (or is wrong)."""


@dataclass
class _Build:
    resources: list[Resource] = field(default_factory=list)
    generated: set[tuple[str, str]] = field(default_factory=set)
    """(kind, name) of the generated ConfigMaps and Secrets, named without their hash yet."""


def render(folder: Path) -> list[Resource]:
    """The resources ``kustomize build folder`` would print (in the order they were added)."""
    build = _build(folder)
    renamed: dict[tuple[str, str], str] = {}
    for resource in build.resources:
        key = (resource["kind"], resource["metadata"]["name"])
        if key in build.generated:
            resource["metadata"]["name"] = f"{key[1]}-{content_hash(resource)}"
            renamed[key] = resource["metadata"]["name"]
    for resource in build.resources:
        spec = pod_spec(resource)
        if spec is not None:
            _rename_references(spec, renamed)
    return build.resources


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod spec of a workload, or None for a kind that has none."""
    if resource["kind"] in OTHER_POD_KINDS:
        raise UnsupportedKustomization(f"pod specs of a {resource['kind']} are not followed")
    if resource["kind"] not in POD_TEMPLATE_KINDS:
        return None
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The init containers and containers of a pod spec."""
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def content_hash(resource: Resource) -> str:
    """kustomize's name suffix of a generated ConfigMap or Secret (api/hasher)."""
    name = resource["metadata"]["name"]
    fields: dict[str, Any]
    if resource["kind"] == "ConfigMap":
        fields = {"kind": "ConfigMap", "name": name, "data": resource.get("data", "")}
        if resource.get("binaryData"):
            fields["binaryData"] = resource["binaryData"]
    elif resource["kind"] == "Secret":
        fields = {
            "kind": "Secret",
            "type": resource.get("type", ""),
            "name": name,
            "data": resource.get("data", ""),
        }
        if resource.get("stringData"):
            fields["stringData"] = resource["stringData"]
    else:
        raise UnsupportedKustomization(f"no hash for a generated {resource['kind']}")
    # As Go's encoding/json writes it: sorted keys, no spaces, HTML characters escaped.
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for character in "<>&\u2028\u2029":
        encoded = encoded.replace(character, f"\\u{ord(character):04x}")
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _build(folder: Path) -> _Build:
    path = folder / "kustomization.yaml"
    if not path.is_file():
        raise UnsupportedKustomization(f"{folder}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    _refuse_unknown(spec, KUSTOMIZATION_FIELDS, str(path))
    if spec.get("kind", "Kustomization") != "Kustomization":
        raise UnsupportedKustomization(f"{path}: kind {spec['kind']!r}")

    build = _Build()
    for entry in spec.get("resources", []):
        target = folder / entry
        if target.is_dir():
            nested = _build(target)
            build.resources += nested.resources
            build.generated |= nested.generated
        else:
            documents = yaml.safe_load_all(target.read_text(encoding="utf-8"))
            build.resources += [document for document in documents if document]

    options = spec.get("generatorOptions", {})
    _refuse_unknown(options, {"labels"}, f"{path}: generatorOptions")
    for entry in spec.get("configMapGenerator", []):
        _generate(build, "ConfigMap", entry, folder, options.get("labels", {}))
    for entry in spec.get("secretGenerator", []):
        _generate(build, "Secret", entry, folder, options.get("labels", {}))
    _refuse_duplicates(build.resources, str(path))

    for entry in spec.get("patches", []):
        _patch(build.resources, entry, folder)
    if "namespace" in spec:
        _set_namespace(build.resources, spec["namespace"])
    for entry in spec.get("labels", []):
        _add_labels(build.resources, entry)
    for entry in spec.get("replicas", []):
        _set_replicas(build.resources, entry)
    for entry in spec.get("images", []):
        _set_image(build.resources, entry)
    return build


def _refuse_unknown(mapping: dict[str, Any], known: set[str] | frozenset[str], where: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise UnsupportedKustomization(f"{where}: not implemented: {', '.join(unknown)}")


def _refuse_duplicates(resources: list[Resource], where: str) -> None:
    seen: set[tuple[str, str, str]] = set()
    for resource in resources:
        key = (resource["kind"], resource["metadata"].get("namespace", ""), _name(resource))
        if key in seen:
            raise UnsupportedKustomization(f"{where}: {key} is defined twice")
        seen.add(key)


def _name(resource: Resource) -> str:
    name: str = resource["metadata"]["name"]
    return name


# --- generators


def _generate(
    build: _Build, kind: str, entry: dict[str, Any], folder: Path, labels: dict[str, str]
) -> None:
    where = f"{folder}: {kind} generator {entry.get('name')!r}"
    fields = {"name", "literals", "envs", "behavior"} | ({"files"} if kind == "Secret" else set())
    _refuse_unknown(entry, fields, where)
    data: dict[str, str] = {}

    def put(key: str, value: bytes) -> None:
        if not DATA_KEY.fullmatch(key):
            raise UnsupportedKustomization(f"{where}: {key!r} is not a valid key")
        if key in data:
            raise UnsupportedKustomization(f"{where}: the key {key!r} is given twice")
        data[key] = base64.b64encode(value).decode() if kind == "Secret" else value.decode()

    for env in entry.get("envs", []):
        for key, value in _read_env_file(folder / env, kind == "Secret").items():
            put(key, value.encode())
    for literal in entry.get("literals", []):
        key, equals, value = literal.partition("=")
        if not key or not equals:
            raise UnsupportedKustomization(f"{where}: {literal!r} is not key=value")
        put(key, _unquote(value).encode())
    for source in entry.get("files", []):
        key, equals, path = source.rpartition("=")
        if equals and not key:
            raise UnsupportedKustomization(f"{where}: {source!r} names no key")
        put(key or Path(path).name, _read_file(folder, path, where))

    behavior = entry.get("behavior", "create")
    existing = next(
        (r for r in build.resources if r["kind"] == kind and _name(r) == entry["name"]), None
    )
    if behavior == "merge":
        if existing is None or (kind, entry["name"]) not in build.generated:
            raise UnsupportedKustomization(f"{where}: nothing generated to merge into")
        existing.setdefault("data", {}).update(data)
        existing["metadata"].setdefault("labels", {}).update(labels)
        return
    if behavior != "create":
        raise UnsupportedKustomization(f"{where}: behavior {behavior!r}")
    if existing is not None:
        raise UnsupportedKustomization(f"{where}: already exists")
    resource: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": entry["name"]}}
    if labels:
        resource["metadata"]["labels"] = dict(labels)
    if kind == "Secret":
        resource["type"] = "Opaque"
    resource["data"] = data
    build.resources.append(resource)
    build.generated.add((kind, entry["name"]))


def _read_env_file(path: Path, is_secret: bool) -> dict[str, str]:
    """KEY=value lines as kustomize reads them: values as written, `#` lines skipped."""
    example = path.with_name(path.name + ".example")
    if is_secret and not path.exists() and example.exists():
        path = example
    pairs: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if not ENV_NAME.fullmatch(key):
            raise UnsupportedKustomization(f"{path}: {key!r} is not a variable name")
        pairs[key] = value
    return pairs


def _read_file(folder: Path, path: str, where: str) -> bytes:
    """A secret's file, inside ``folder`` (kustomize's default load restriction), or else its
    ``.example`` beside it."""
    target = (folder / path).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise UnsupportedKustomization(f"{where}: {path!r} is outside {folder}")
    example = target.with_name(target.name + ".example")
    if not target.exists() and example.exists():
        target = example
    if not target.is_file():
        raise UnsupportedKustomization(f"{where}: no file {path!r}")
    return target.read_bytes()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _rename_references(spec: dict[str, Any], renamed: dict[tuple[str, str], str]) -> None:
    def follow(reference: dict[str, Any] | None, kind: str, key: str = "name") -> None:
        if reference is not None and (kind, reference.get(key)) in renamed:
            reference[key] = renamed[(kind, reference[key])]

    for container in containers(spec):
        for source in container.get("envFrom", []):
            follow(source.get("configMapRef"), "ConfigMap")
            follow(source.get("secretRef"), "Secret")
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            follow(value_from.get("configMapKeyRef"), "ConfigMap")
            follow(value_from.get("secretKeyRef"), "Secret")
    for volume in spec.get("volumes", []):
        follow(volume.get("configMap"), "ConfigMap")
        follow(volume.get("secret"), "Secret", "secretName")
        for source in volume.get("projected", {}).get("sources", []):
            follow(source.get("configMap"), "ConfigMap")
            follow(source.get("secret"), "Secret")
    for pull_secret in spec.get("imagePullSecrets", []):
        follow(pull_secret, "Secret")


# --- transformers


def _patch(resources: list[Resource], entry: dict[str, Any], folder: Path) -> None:
    _refuse_unknown(entry, {"target", "patch", "path"}, f"{folder}: patch")
    target = entry.get("target", {})
    _refuse_unknown(target, {"kind", "name"}, f"{folder}: patch target")
    if "kind" not in target or "name" not in target:
        raise UnsupportedKustomization(f"{folder}: a patch must target a kind and a name")
    text = entry["patch"] if "patch" in entry else (folder / entry["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise UnsupportedKustomization(f"{folder}: only JSON 6902 patches (a list of operations)")
    matched = [r for r in resources if r["kind"] == target["kind"] and _name(r) == target["name"]]
    if not matched:
        raise UnsupportedKustomization(f"{folder}: no {target['kind']} {target['name']!r} to patch")
    for resource in matched:
        for operation in operations:
            apply_operation(resource, operation)


def apply_operation(document: Any, operation: dict[str, Any]) -> None:
    """Apply one JSON 6902 ``add``, ``replace`` or ``remove`` operation to ``document``."""
    _refuse_unknown(operation, {"op", "path", "value"}, "patch operation")
    op, path = operation["op"], operation["path"]
    if op not in {"add", "replace", "remove"}:
        raise UnsupportedKustomization(f"patch operation {op!r}")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
    if not path.startswith("/") or not tokens:
        raise UnsupportedKustomization(f"patch path {path!r}")
    parent = document
    for token in tokens[:-1]:
        parent = parent[_index(parent, token, path)] if isinstance(parent, list) else parent[token]
    last = tokens[-1]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(parent, list):
        if op == "add":
            index = len(parent) if last == "-" else int(last)
            if not 0 <= index <= len(parent):
                raise UnsupportedKustomization(f"patch path {path!r}: no index {last}")
            parent.insert(index, value)
        elif op == "replace":
            parent[_index(parent, last, path)] = value
        else:
            del parent[_index(parent, last, path)]
        return
    if op != "add" and last not in parent:
        raise UnsupportedKustomization(f"patch path {path!r}: nothing to {op}")
    if op == "remove":
        del parent[last]
    else:
        parent[last] = value


def _index(items: list[Any], token: str, path: str) -> int:
    if not token.isdigit() or int(token) >= len(items):
        raise UnsupportedKustomization(f"patch path {path!r}: no index {token}")
    return int(token)


def _set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        if resource["kind"] == "Namespace":
            if _name(resource) != namespace:
                raise UnsupportedKustomization(
                    f"Namespace {_name(resource)!r} is not {namespace!r}"
                )
        elif resource["kind"] not in CLUSTER_SCOPED_KINDS:
            resource["metadata"]["namespace"] = namespace


def _add_labels(resources: list[Resource], entry: dict[str, Any]) -> None:
    _refuse_unknown(entry, {"pairs", "includeTemplates", "includeSelectors"}, "labels")
    if entry.get("includeSelectors", False):
        raise UnsupportedKustomization("labels: includeSelectors is not implemented")
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(entry["pairs"])
        if entry.get("includeTemplates", False) and resource["kind"] in POD_TEMPLATE_KINDS:
            template = resource["spec"]["template"].setdefault("metadata", {})
            template.setdefault("labels", {}).update(entry["pairs"])


def _set_replicas(resources: list[Resource], entry: dict[str, Any]) -> None:
    _refuse_unknown(entry, {"name", "count"}, "replicas")
    matched = [r for r in resources if r["kind"] in SCALABLE_KINDS and _name(r) == entry["name"]]
    if not matched:
        raise UnsupportedKustomization(f"replicas: no workload {entry['name']!r}")
    for resource in matched:
        resource["spec"]["replicas"] = entry["count"]


def _set_image(resources: list[Resource], entry: dict[str, Any]) -> None:
    _refuse_unknown(entry, {"name", "newName", "newTag", "digest"}, "images")
    found = False
    for resource in resources:
        spec = pod_spec(resource)
        for container in containers(spec) if spec is not None else []:
            name, reference = split_image(container["image"])
            if name != entry["name"]:
                continue
            found = True
            if "digest" in entry:
                reference = f"@{entry['digest']}"
            elif "newTag" in entry:
                reference = f":{entry['newTag']}"
            container["image"] = entry.get("newName", name) + reference
    if not found:
        raise UnsupportedKustomization(f"images: no container runs {entry['name']!r}")


def split_image(image: str) -> tuple[str, str]:
    """``registry:5000/app:1.0`` → (``registry:5000/app``, ``:1.0``); a digest stays whole."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""
