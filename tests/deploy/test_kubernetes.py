"""The Kubernetes manifests (``deploy/kubernetes``): what ``kubectl apply -k`` would send for the
base and the production overlay is valid for the pinned Kubernetes version and agrees with the
processes it runs — their settings, keys, databases, console scripts, ports and health
endpoints — runs them hardened, and commits no secret.

The manifests are rendered by :mod:`tests.deploy.kustomize` (no kustomize binary needed) and
checked against the strict JSON schemas bundled with ``kubernetes-validate`` (offline).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import referencing
from jsonschema import Draft202012Validator
from tests.deploy.kustomize import (
    Resource,
    UnsupportedKustomization,
    containers,
    content_hash,
    pod_spec,
    render,
    split_image,
)
from tests.deploy.settings_names import (
    COMMANDS,
    KEY_FILES,
    SETTINGS,
    key_settings,
    unknown_variables,
)

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
FOLDERS = {"base": KUBERNETES / "base", "production": KUBERNETES / "overlays" / "production"}
SECRET_EXAMPLE = KUBERNETES / "base" / "secrets.env.example"
KEYS = KUBERNETES / "base" / "keys"
"""Where the operator makes the key pairs (``uv run testops-gateway keygen``) for the Secret."""

KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests are for; their schemas are checked against its API."""
SCHEMAS = (
    files("kubernetes_validate") / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
)

PYPROJECTS = {
    name: ROOT / ("gateway" if name == "gateway" else f"services/{name}") / "pyproject.toml"
    for name in SETTINGS
}
DATABASE_PROCESSES = {"catalog", "results", "executor", "gateway"}
POSTGRES_PORT = 5432
UVICORN_GRACEFUL_SHUTDOWN_S = 10
"""How long a process waits for open requests on TERM (``testops_kit.server.serve``)."""
CLEAN_UP_S = 10
"""Room left after the kill grace for removing a checkout and recording the execution."""
CONTAINER_CONTRACT = {
    "catalog": {"storage_url": "s3://testops/catalog"},
    "results": {"storage_url": "s3://testops/results", "spool_dir": "/var/lib/testops/spool"},
    "executor": {
        "workspace_dir": "/var/lib/testops/work",
        "uv_cache_dir": "/var/lib/testops/uv-cache",
        "results_url": "http://results:8002",
    },
    "gateway": {
        "catalog_url": "http://catalog:8001",
        "results_url": "http://results:8002",
        "executor_url": "http://executor:8003",
    },
}
"""What each process's container is told beyond the settings every process shares."""
SECRET_LIKE_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|HEADER", re.IGNORECASE)
PASSWORD_IN_URL = re.compile(r"://[^/@:\s]+:[^/@\s]+@")
METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")

Container = dict[str, Any]


@cache
def rendered(name: str) -> tuple[Resource, ...]:
    return tuple(render(FOLDERS[name]))


both = pytest.mark.parametrize("name", list(FOLDERS))


def find(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    return next(r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name)


def pod(workload: Resource) -> dict[str, Any]:
    """The pod spec of a workload."""
    spec = pod_spec(workload)
    assert spec is not None, workload["kind"]
    return spec


def workload_containers(
    resources: tuple[Resource, ...],
) -> Iterator[tuple[str, Resource, Container]]:
    """(``Kind/name container c``, the workload, the container) of every container."""
    for resource in resources:
        spec = pod_spec(resource)
        for container in containers(spec) if spec is not None else []:
            where = (
                f"{resource['kind']}/{resource['metadata']['name']} container {container['name']}"
            )
            yield where, resource, container


def process_of(container: Container) -> str | None:
    """The TestOps process whose image the container runs (``…/testops-<process>:tag``)."""
    image = split_image(container["image"])[0].rsplit("/", 1)[-1]
    return next((process for process in SETTINGS if image == f"testops-{process}"), None)


def literal_environment(container: Container, resources: tuple[Resource, ...]) -> dict[str, str]:
    """The variables whose values the manifests spell out: ConfigMap keys pulled in with
    ``envFrom`` and ``env`` values (which win), not what comes from Secrets."""
    config_maps = {r["metadata"]["name"]: r for r in resources if r["kind"] == "ConfigMap"}
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = config_maps[source["configMapRef"]["name"]].get("data", {})
            values.update({source.get("prefix", "") + key: value for key, value in data.items()})
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = variable["value"]
    return values


def setting(process: str, name: str, container: Container, resources: tuple[Resource, ...]) -> Any:
    """A setting's value in the container: what the manifests set, else the default."""
    variable = f"TESTOPS_{process.upper()}_{name.upper()}"
    environment = literal_environment(container, resources)
    if variable in environment:
        return environment[variable]
    return SETTINGS[process].model_fields[name].get_default(call_default_factory=True)


# --- the checks, as functions over rendered resources


def schema_errors(resource: Resource) -> list[str]:
    """Where ``resource`` breaks the strict schema of its kind in the pinned Kubernetes."""
    where = f"{resource['kind']}/{resource['metadata'].get('name')}"
    errors = _validator(resource["kind"], resource["apiVersion"]).iter_errors(resource)
    return [f"{where} at {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@cache
def _definitions() -> referencing.Registry[Any]:
    contents = json.loads((SCHEMAS / "_definitions.json").read_text(encoding="utf-8"))
    return referencing.Resource.from_contents(contents) @ referencing.Registry()


@cache
def _validator(kind: str, api_version: str) -> Draft202012Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # apps/v1 → apps-v1
    path = SCHEMAS / f"{kind.lower()}-{group_version}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=_definitions())


def environment_problems(resources: tuple[Resource, ...]) -> list[str]:
    """Every variable a TestOps container gets (``env``, and the keys of the ConfigMaps and
    Secrets it pulls in with ``envFrom``) that its process does not read."""
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    problems: list[str] = []
    for where, _, container in workload_containers(resources):
        process = process_of(container)
        if process is None:
            continue
        names = [variable["name"] for variable in container.get("env", [])]
        for source in container.get("envFrom", []):
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field not in source:
                    continue
                pulled = by_name.get((kind, source[field]["name"]))
                if pulled is None:
                    problems.append(f"{where}: no {kind} {source[field]['name']}")
                    continue
                names += [source.get("prefix", "") + key for key in pulled.get("data", {})]
        problems += [
            f"{where}: {name} is not a setting of the {process}"
            for name in unknown_variables(process, names)
        ]
    return problems


def reference_problems(resources: tuple[Resource, ...]) -> list[str]:
    """ConfigMaps, Secrets and keys the containers name that are not there (unless optional)."""
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    problems: list[str] = []
    for where, _, container in workload_containers(resources):
        references: list[tuple[str, dict[str, Any], str | None]] = [
            (kind, source[field], None)
            for source in container.get("envFrom", [])
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef"))
            if field in source
        ]
        references += [
            (kind, variable["valueFrom"][field], variable["valueFrom"][field]["key"])
            for variable in container.get("env", [])
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef"))
            if field in variable.get("valueFrom", {})
        ]
        for kind, reference, key in references:
            if reference.get("optional", False):
                continue
            target = by_name.get((kind, reference["name"]))
            if target is None:
                problems.append(f"{where}: no {kind} {reference['name']}")
            elif key is not None and key not in target.get("data", {}):
                problems.append(f"{where}: {kind} {reference['name']} has no key {key}")
    for resource in resources:
        spec = pod_spec(resource)
        for volume in spec.get("volumes", []) if spec is not None else []:
            where = f"{resource['kind']}/{resource['metadata']['name']} volume {volume['name']}"
            for kind, field, name_field in (
                ("Secret", "secret", "secretName"),
                ("ConfigMap", "configMap", "name"),
            ):
                source = volume.get(field)
                if source is None or source.get("optional", False):
                    continue
                target = by_name.get((kind, source[name_field]))
                if target is None:
                    problems.append(f"{where}: no {kind} {source[name_field]}")
                    continue
                problems += [
                    f"{where}: {kind} {source[name_field]} has no key {item['key']}"
                    for item in source.get("items", [])
                    if item["key"] not in target.get("data", {})
                ]
    return problems


def literal_secrets(resources: tuple[Resource, ...]) -> list[str]:
    """Secret-looking values written into the manifests: a password-, secret- or token-like
    name with a value, or a URL carrying a password (a Secret's own data is not looked at)."""
    found: list[tuple[str, str, str]] = []
    for resource in resources:
        if resource["kind"] == "ConfigMap":
            where = f"ConfigMap/{resource['metadata']['name']}"
            found += [(where, key, value) for key, value in resource.get("data", {}).items()]
    for where, _, container in workload_containers(resources):
        found += [
            (where, variable["name"], str(variable["value"]))
            for variable in container.get("env", [])
            if "value" in variable
        ]
    return [
        f"{where}: {name}"
        for where, name, value in found
        if value and (SECRET_LIKE_NAME.search(name) or PASSWORD_IN_URL.search(value))
    ]


def mounted_keys(
    resources: tuple[Resource, ...], resource: Resource, container: Container
) -> dict[str, str]:
    """The key files (:data:`KEY_FILES`' names) of Secrets a container mounts: the path in the
    container → the key of the Secret's data (every key of the Secret when the volume names no
    items)."""
    secrets = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Secret"}
    volumes = {v["name"]: v for v in pod(resource).get("volumes", [])}
    found: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        items = secret.get("items") or [
            {"key": key, "path": key}
            for key in secrets.get(secret["secretName"], {}).get("data", {})
        ]
        base = mount["mountPath"].rstrip("/")
        for item in items:
            if item["key"] in KEY_FILES.values():
                found[f"{base}/{item['path']}"] = item["key"]
    return found


def key_problems(resources: tuple[Resource, ...]) -> list[str]:
    """What keeps the key pairs from reaching exactly the containers that need them: a process
    whose key setting does not name a file of the Secret it mounts read-only (it would refuse to
    start, or results refuse the executor's uploads), a key given as a value, and a container
    mounting a key half its process does not take (the migration Job takes none)."""
    problems: list[str] = []
    for where, resource, container in workload_containers(resources):
        process = process_of(container)
        assert process is not None, where
        serves = resource["kind"] == "Deployment"
        needed = key_settings(process) if serves else {}
        mounted = mounted_keys(resources, resource, container)
        read_only = {
            m["mountPath"].rstrip("/")
            for m in container.get("volumeMounts", [])
            if m.get("readOnly")
        }
        environment = literal_environment(container, resources)
        prefix = f"TESTOPS_{process.upper()}_"
        secret_names = {v["name"] for v in container.get("env", []) if "valueFrom" in v}
        for setting, file in needed.items():
            path = environment.get(f"{prefix}{setting}_FILE")
            if path is None or mounted.get(path) != file:
                problems.append(f"{where}: {prefix}{setting}_FILE ({path}) is no mounted {file}")
            elif str(Path(path).parent) not in read_only:
                problems.append(f"{where}: {path} is not mounted read-only")
            if f"{prefix}{setting}" in environment or f"{prefix}{setting}" in secret_names:
                problems.append(f"{where}: {prefix}{setting} holds the key itself")
        problems += [
            f"{where}: mounts {file}, a key it does not need"
            for file in sorted(set(mounted.values()) - set(needed.values()))
        ]
    return problems


def egress_allows(resources: tuple[Resource, ...], labels: dict[str, str], port: int) -> bool:
    """Whether the network policies let pods with ``labels`` open TCP connections to ``port``
    somewhere: no egress policy selects them, or one of the rules of those that do allows it."""
    policies = [
        p
        for p in resources
        if p["kind"] == "NetworkPolicy"
        and "Egress" in p["spec"]["policyTypes"]
        and p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]
    rules = [rule for policy in policies for rule in policy["spec"].get("egress", [])]
    return not policies or any(
        "ports" not in rule
        or any(
            p.get("protocol", "TCP") == "TCP" and p.get("port") in (None, port)
            for p in rule["ports"]
        )
        for rule in rules
    )


def ingress_sources(resources: tuple[Resource, ...], process: str) -> set[str]:
    """Who the network policies let reach the pods of ``process``: process names, ``anywhere``
    (a rule without ``from``), or ``other`` (any peer that is not one of our pods)."""
    labels = {"app.kubernetes.io/name": process}
    sources: set[str] = set()
    for policy in resources:
        if policy["kind"] != "NetworkPolicy" or "Ingress" not in policy["spec"]["policyTypes"]:
            continue
        selected = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selected.items() <= labels.items():
            continue
        for rule in policy["spec"].get("ingress", []):
            if "from" not in rule:
                sources.add("anywhere")
            for peer in rule.get("from", []):
                pods = peer.get("podSelector", {}).get("matchLabels", {})
                only_pods = set(peer) == {"podSelector"} and set(pods) == set(labels)
                sources.add(pods["app.kubernetes.io/name"] if only_pods else "other")
    return sources


# --- schemas


@both
def test_every_resource_is_valid_for_the_pinned_kubernetes_version(name: str) -> None:
    errors = [error for resource in rendered(name) for error in schema_errors(resource)]

    assert errors == []


def test_the_schema_check_rejects_a_field_kubernetes_does_not_know() -> None:
    deployment = copy.deepcopy(find(rendered("base"), "Deployment", "catalog"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}

    assert any("readinesProbe" in error for error in schema_errors(deployment))


# --- settings


@both
def test_every_variable_set_on_a_testops_container_is_a_setting_of_its_process(
    name: str,
) -> None:
    assert environment_problems(rendered(name)) == []


def test_the_environment_check_reports_a_misspelt_setting() -> None:
    resources = copy.deepcopy(rendered("base"))
    config_map = next(r for r in resources if r["metadata"]["name"].startswith("results-settings-"))
    data = config_map["data"]
    data["TESTOPS_RESULTS_STORAGE_ULR"] = data.pop("TESTOPS_RESULTS_STORAGE_URL")

    problems = environment_problems(resources)

    assert problems
    assert all("TESTOPS_RESULTS_STORAGE_ULR" in problem for problem in problems)
    assert any(problem.startswith("Deployment/results") for problem in problems)


@both
def test_every_configmap_secret_and_key_a_container_names_exists(name: str) -> None:
    assert reference_problems(rendered(name)) == []


def test_the_reference_check_reports_a_volume_item_the_secret_lacks() -> None:
    resources = copy.deepcopy(rendered("base"))
    secret = next(r for r in resources if r["kind"] == "Secret" and "executor.pem" in r["data"])
    del secret["data"]["executor.pem"]

    assert reference_problems(resources) == [
        f"Deployment/executor volume keys: Secret {secret['metadata']['name']} has no key "
        "executor.pem"
    ]


@both
def test_every_container_runs_a_testops_image(name: str) -> None:
    strangers = [
        where
        for where, _, container in workload_containers(rendered(name))
        if process_of(container) is None
    ]

    assert strangers == []


@both
def test_every_process_runs_with_the_container_settings_contract(name: str) -> None:
    resources = rendered(name)
    for _, resource, container in workload_containers(resources):
        process = process_of(container)
        assert process is not None
        contract = {"host": "0.0.0.0", "log_format": "json", "data_dir": "/var/lib/testops"}
        if process in DATABASE_PROCESSES:
            contract["migrate_on_start"] = "false"
        if resource["kind"] == "Deployment":
            contract |= CONTAINER_CONTRACT[process]
        actual = {key: setting(process, key, container, resources) for key in contract}
        assert actual == contract, resource["metadata"]["name"]


# --- commands


@both
def test_every_container_runs_its_process_console_script(name: str) -> None:
    for where, resource, container in workload_containers(rendered(name)):
        process = process_of(container)
        assert process is not None
        image_default = [] if "args" in container else [COMMANDS[process]]
        argv = [*container.get("command", image_default), *container.get("args", [])]
        expected = [COMMANDS[process]]
        if resource["kind"] == "Job":
            expected.append("migrate")
        assert argv == expected, where


@pytest.mark.parametrize("process", list(SETTINGS))
def test_each_console_script_is_one_its_package_installs(process: str) -> None:
    pyproject = tomllib.loads(PYPROJECTS[process].read_text(encoding="utf-8"))

    assert COMMANDS[process] in pyproject["project"]["scripts"]


@both
def test_the_migration_job_migrates_every_database_and_then_goes_away(name: str) -> None:
    jobs = [r for r in rendered(name) if r["kind"] == "Job"]
    assert len(jobs) == 1
    job = jobs[0]
    migrated = {process_of(container) for container in containers(pod(job))}

    assert migrated == DATABASE_PROCESSES
    assert sorted(container["name"] for container in containers(pod(job))) == sorted(migrated)
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


@both
def test_every_process_with_a_database_has_its_url_from_the_secret(name: str) -> None:
    resources = rendered(name)
    for where, _, container in workload_containers(resources):
        process = process_of(container)
        assert process in DATABASE_PROCESSES, where
        variable = f"TESTOPS_{process.upper()}_DATABASE_URL"
        given = [v for v in container.get("env", []) if v["name"] == variable]

        assert [v["valueFrom"]["secretKeyRef"] for v in given] == [
            {
                "name": find_secret(resources, "testops-secrets"),
                "key": variable.removeprefix("TESTOPS_"),
            }
        ], where


def find_secret(resources: tuple[Resource, ...], stem: str) -> str:
    """The name of the Secret generated as ``stem`` (with kustomize's hash)."""
    names = [
        r["metadata"]["name"]
        for r in resources
        if r["kind"] == "Secret" and re.fullmatch(rf"{stem}-[a-z0-9]{{10}}", r["metadata"]["name"])
    ]
    assert len(names) == 1, names
    return names[0]


@both
def test_every_pod_with_a_database_may_reach_postgresql(name: str) -> None:
    resources = rendered(name)
    for resource in resources:
        if pod_spec(resource) is None:
            continue
        labels = resource["spec"]["template"]["metadata"]["labels"]

        assert egress_allows(resources, labels, POSTGRES_PORT), resource["metadata"]["name"]


def test_the_egress_check_reports_a_policy_that_shuts_postgresql_out() -> None:
    resources = copy.deepcopy(rendered("base"))
    gateway = {"app.kubernetes.io/name": "gateway"}
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "gateway-egress"},
        "spec": {
            "podSelector": {"matchLabels": gateway},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}],
        },
    }

    assert egress_allows(resources, gateway, POSTGRES_PORT)
    assert not egress_allows((*resources, policy), gateway, POSTGRES_PORT)


# --- the key pairs


@both
def test_every_process_gets_each_key_it_needs_and_no_container_another(name: str) -> None:
    """The gateway's private key in the gateway only, the executor's in the executor only; the
    public halves where they are checked; the migration Job none."""
    resources = rendered(name)
    holders = {
        file: {
            resource["metadata"]["name"]
            for _, resource, container in workload_containers(resources)
            if file in mounted_keys(resources, resource, container).values()
        }
        for file in KEY_FILES.values()
    }

    assert key_problems(resources) == []
    assert holders == {
        "principal.pem": {"gateway"},
        "principal.pub": {"catalog", "results", "executor"},
        "executor.pem": {"executor"},
        "executor.pub": {"results"},
    }


def _keys_volume(resources: tuple[Resource, ...], deployment: str) -> dict[str, Any]:
    volumes = pod(find(resources, "Deployment", deployment))["volumes"]
    volume: dict[str, Any] = next(v for v in volumes if v["name"] == "keys")
    return volume


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (
            lambda r: _keys_volume(r, "executor")["secret"]["items"].pop(),
            "Deployment/executor container executor: TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY_FILE "
            "(/run/secrets/testops/executor.pem) is no mounted executor.pem",
        ),
        (
            lambda r: _keys_volume(r, "catalog")["secret"].pop("items"),
            "Deployment/catalog container catalog: mounts executor.pem, a key it does not need",
        ),
        (
            lambda r: pod(find(r, "Deployment", "gateway"))["containers"][0]["volumeMounts"][
                -1
            ].pop("readOnly"),
            "Deployment/gateway container gateway: /run/secrets/testops/principal.pem is not "
            "mounted read-only",
        ),
    ],
    ids=["missing", "foreign", "writable"],
)
def test_the_key_check_reports_a_missing_a_foreign_or_a_writable_key(
    change: Any, reported: str
) -> None:
    resources = copy.deepcopy(rendered("base"))
    change(resources)

    assert reported in key_problems(resources)


def test_the_keys_are_made_by_keygen_and_only_examples_holding_none_are_committed() -> None:
    from testops_gateway.__main__ import KEY_PAIRS

    secret = next(
        r for r in rendered("base") if r["kind"] == "Secret" and "principal.pem" in r["data"]
    )
    made = {f"{pair}.{half}" for pair in KEY_PAIRS for half in ("pem", "pub")}
    examples = sorted(KEYS.glob("*.example"))
    ignored = (KUBERNETES / ".gitignore").read_text(encoding="utf-8").splitlines()

    assert set(secret["data"]) == made == set(KEY_FILES.values())
    assert sorted(path.name for path in examples) == sorted(f"{file}.example" for file in made)
    for example in examples:
        assert "BEGIN" not in example.read_text(encoding="utf-8")
        assert "testops-gateway keygen deploy/kubernetes/base/keys" in example.read_text()
    assert {"base/keys/*", "!base/keys/*.example"} <= set(ignored)


# --- probes, ports, resources


@both
def test_every_service_process_is_probed_on_its_port(name: str) -> None:
    resources = rendered(name)
    deployments = [r for r in resources if r["kind"] == "Deployment"]
    assert {r["metadata"]["name"] for r in deployments} == set(SETTINGS)
    for deployment in deployments:
        for container in containers(pod(deployment)):
            process = process_of(container)
            assert process is not None
            port = int(setting(process, "port", container, resources))
            ports = {p.get("name"): p["containerPort"] for p in container["ports"]}

            def target(probe: dict[str, Any], ports: dict[str | None, int] = ports) -> Any:
                return probe["httpGet"]["path"], ports.get(probe["httpGet"]["port"])

            assert port in ports.values()
            assert target(container["readinessProbe"]) == ("/readyz", port)
            assert target(container["livenessProbe"]) == ("/healthz", port)
            if "startupProbe" in container:
                assert target(container["startupProbe"]) == ("/healthz", port)


@both
def test_each_process_has_a_service_of_its_name_on_its_port(name: str) -> None:
    resources = rendered(name)
    for process, settings in SETTINGS.items():
        service = find(resources, "Service", process)
        template = find(resources, "Deployment", process)["spec"]["template"]
        labels = template["metadata"]["labels"]
        port = settings.model_fields["port"].default
        container_ports = {
            p["name"]: p["containerPort"] for p in template["spec"]["containers"][0]["ports"]
        }

        assert service["spec"]["selector"].items() <= labels.items()
        assert [
            (p["port"], container_ports[p["targetPort"]]) for p in service["spec"]["ports"]
        ] == [(port, port)]


@both
def test_every_container_has_resource_requests_and_limits(name: str) -> None:
    for where, _, container in workload_containers(rendered(name)):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"


@both
def test_only_gateway_and_results_scale_automatically(name: str) -> None:
    resources = rendered(name)
    autoscalers = [r for r in resources if r["kind"] == "HorizontalPodAutoscaler"]
    targets = {a["spec"]["scaleTargetRef"]["name"] for a in autoscalers}

    assert targets == {"gateway", "results"}
    assert {a["apiVersion"] for a in autoscalers} == {"autoscaling/v2"}
    for target in targets:  # or every apply would reset what the autoscaler chose
        assert "replicas" not in find(resources, "Deployment", target)["spec"]


@pytest.mark.parametrize(("name", "slots"), [("base", 1), ("production", 3)])
def test_the_executor_replicas_are_its_execution_slots(name: str, slots: int) -> None:
    assert find(rendered(name), "Deployment", "executor")["spec"]["replicas"] == slots


@both
def test_the_executor_has_time_to_stop_its_execution_on_termination(name: str) -> None:
    resources = rendered(name)
    executor = find(resources, "Deployment", "executor")
    spec = pod(executor)
    kill_grace_s = float(setting("executor", "kill_grace_s", spec["containers"][0], resources))

    needed = UVICORN_GRACEFUL_SHUTDOWN_S + kill_grace_s + CLEAN_UP_S
    assert spec["terminationGracePeriodSeconds"] >= needed


# --- hardening


@both
def test_every_pod_runs_unprivileged_without_a_service_account_token(name: str) -> None:
    for resource in rendered(name):
        spec = pod_spec(resource)
        if spec is None:
            continue
        where = f"{resource['kind']}/{resource['metadata']['name']}"
        assert spec.get("automountServiceAccountToken") is False, where
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, where
        for container in containers(spec):
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, f"{where} container {container['name']}"


@both
def test_every_folder_a_process_writes_to_is_an_empty_dir_volume(name: str) -> None:
    resources = rendered(name)
    for where, resource, container in workload_containers(resources):
        volumes = {v["name"]: v for v in pod(resource).get("volumes", [])}
        writable = [
            Path(mount["mountPath"])
            for mount in container.get("volumeMounts", [])
            if "emptyDir" in volumes[mount["name"]]
        ]
        folders = [Path("/tmp")]
        if resource["kind"] == "Deployment":  # the migrations write nothing of their own
            environment = literal_environment(container, resources)
            folders += [Path(v) for k, v in environment.items() if k.endswith("_DIR")]
        for folder in folders:
            assert any(folder.is_relative_to(mount) for mount in writable), f"{where}: {folder}"


@both
def test_only_the_gateway_is_reachable_from_outside(name: str) -> None:
    resources = rendered(name)
    deny_all = [
        p
        for p in resources
        if p["kind"] == "NetworkPolicy"
        and p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
    ]

    assert deny_all
    assert {process: ingress_sources(resources, process) for process in SETTINGS} == {
        "gateway": {"anywhere"},
        "catalog": {"gateway"},
        "results": {"gateway", "executor"},
        "executor": {"gateway"},
    }


@both
def test_the_executor_cannot_reach_the_cloud_metadata_address(name: str) -> None:
    policies = [
        p
        for p in rendered(name)
        if p["kind"] == "NetworkPolicy"
        and "Egress" in p["spec"]["policyTypes"]
        and p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": "executor"}
    ]
    assert policies
    for rule in (rule for p in policies for rule in p["spec"].get("egress", [])):
        if "to" not in rule:  # any destination: DNS only
            assert {port["port"] for port in rule["ports"]} == {53}
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block and METADATA_ADDRESS in ipaddress.ip_network(block["cidr"]):
                excepted = [ipaddress.ip_network(cidr) for cidr in block.get("except", [])]
                assert any(METADATA_ADDRESS in network for network in excepted), block


def test_production_lives_in_its_namespace_behind_an_ingress_with_tls() -> None:
    resources = rendered("production")
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    ingresses = [r for r in resources if r["kind"] == "Ingress"]
    assert len(ingresses) == 1
    spec = ingresses[0]["spec"]
    backends = [
        path["backend"]["service"] for rule in spec["rules"] for path in rule["http"]["paths"]
    ]

    assert {r["metadata"].get("namespace") for r in namespaced} == {"testops"}
    assert [rule["host"] for rule in spec["rules"]] == ["testops.example.com"]
    assert spec["tls"] == [{"hosts": ["testops.example.com"], "secretName": "testops-tls"}]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    assert not [r for r in rendered("base") if r["kind"] == "Ingress"]


# --- secrets


def test_the_secret_example_names_every_key_and_holds_no_value() -> None:
    lines = [
        line.strip()
        for line in SECRET_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    keys = {line.partition("=")[0] for line in lines}
    required = {
        variable["valueFrom"]["secretKeyRef"]["key"]
        for _, _, container in workload_containers(rendered("base"))
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
        and not variable["valueFrom"]["secretKeyRef"].get("optional", False)
    }

    assert [line for line in lines if not line.endswith("=")] == []
    assert required <= keys


def test_the_real_secret_file_is_ignored_by_git() -> None:
    ignored = (KUBERNETES / ".gitignore").read_text(encoding="utf-8").splitlines()

    assert "secrets.env" in ignored


@both
def test_no_manifest_writes_down_a_secret(name: str) -> None:
    assert literal_secrets(rendered(name)) == []


def test_the_secret_check_reports_a_password_written_into_a_manifest() -> None:
    resources = copy.deepcopy(rendered("base"))
    catalog = pod(find(resources, "Deployment", "catalog"))
    catalog["containers"][0]["env"].append(
        {"name": "TESTOPS_CATALOG_DATABASE_URL", "value": "postgresql://u:hunter2@db/catalog"}
    )
    config_map = next(r for r in resources if r["kind"] == "ConfigMap")
    config_map["data"]["TESTOPS_CATALOG_S3_SECRET_ACCESS_KEY"] = "hunter2"

    assert len(literal_secrets(resources)) == 2


# --- the renderer


def write_kustomization(folder: Path, text: str) -> Path:
    (folder / "kustomization.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "text",
    [
        "commonAnnotations: {team: qa}\n",
        "configMapGenerator:\n- name: a\n  files: [a.txt]\n",
        "resources: [d.yaml]\npatches:\n- target: {kind: Deployment, name: d}\n"
        "  patch: '{spec: {replicas: 2}}'\n",
    ],
    ids=["unknown-field", "unknown-generator-field", "strategic-merge-patch"],
)
def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path, text: str) -> None:
    (tmp_path / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n", encoding="utf-8"
    )

    with pytest.raises(UnsupportedKustomization):
        render(write_kustomization(tmp_path, text))


def test_the_renderer_names_generated_resources_as_kustomize_does(tmp_path: Path) -> None:
    # The expected names are those of kustomize's own tests (api/krusty).
    folder = write_kustomization(
        tmp_path,
        "configMapGenerator:\n- name: test\n  literals: [key=value]\n"
        "secretGenerator:\n- name: test\n  literals: [username=admin, password=somepw]\n",
    )

    names = [(r["kind"], r["metadata"]["name"]) for r in render(folder)]

    assert names == [("ConfigMap", "test-t5t4md8fdm"), ("Secret", "test-h65t9hg6kc")]


def test_the_renderer_makes_a_secret_of_files_as_kustomize_does(tmp_path: Path) -> None:
    folder = write_kustomization(
        tmp_path,
        "secretGenerator:\n- name: k\n  files: [keys/a.pem, renamed=keys/b.pub, keys/c.pem]\n",
    )
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.pem").write_bytes(b"-----A-----\n")
    (tmp_path / "keys" / "b.pub").write_bytes(b"b\n")
    (tmp_path / "keys" / "c.pem.example").write_bytes(b"make it\n")

    secret = render(folder)[0]

    assert secret["data"] == {
        "a.pem": "LS0tLS1BLS0tLS0K",
        "renamed": "Ygo=",
        "c.pem": "bWFrZSBpdAo=",
    }
    assert secret["metadata"]["name"] == f"k-{content_hash({**secret, 'metadata': {'name': 'k'}})}"


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ("[missing.pem]", "no file"),
        ("[../outside.pem]", "outside"),
        ("[a.pem, x=a.pem, a.pem]", "given twice"),
        ("['=a.pem']", "names no key"),
        ("['bad key=a.pem']", "not a valid key"),
    ],
    ids=["missing", "outside", "twice", "no-key", "bad-key"],
)
def test_the_renderer_refuses_a_files_entry_kustomize_would(
    tmp_path: Path, files: str, error: str
) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "a.pem").write_text("a", encoding="utf-8")
    (tmp_path / "outside.pem").write_text("o", encoding="utf-8")
    folder = write_kustomization(inner, f"secretGenerator:\n- name: k\n  files: {files}\n")

    with pytest.raises(UnsupportedKustomization, match=error):
        render(folder)


def test_the_renderer_reads_a_missing_secret_file_from_its_example(tmp_path: Path) -> None:
    folder = write_kustomization(tmp_path, "secretGenerator:\n- name: s\n  envs: [secrets.env]\n")
    (tmp_path / "secrets.env.example").write_text("# keys\nA=\n", encoding="utf-8")
    from_example = render(folder)[0]["data"]
    (tmp_path / "secrets.env").write_text("A=c2VjcmV0\n", encoding="utf-8")

    assert from_example == {"A": ""}
    assert render(folder)[0]["data"] == {"A": "YzJWamNtVjA="}
