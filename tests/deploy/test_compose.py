"""docker-compose.yml, .env.example and deploy/compose/postgres-init.sh: a valid Compose file
whose containers get only real settings of their process, whose secrets come from .env and
whose key pairs are compose secrets (each container mounting only the halves it needs), and
whose services start in order (databases and bucket, migrations, services, gateway).

Read, not run (no Docker here); the PostgreSQL init script is run against the test server when
TESTOPS_TEST_POSTGRES_URL names one.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import importlib.metadata
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from tests.deploy.settings_names import COMMANDS, SETTINGS, key_settings, unknown_variables
from tests.deploy.test_images import console_scripts, default_port, image_cmd

from testops_gateway.__main__ import KEY_PAIRS
from testops_kit.testing import postgres_test_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sh"

Compose = dict[str, Any]

ONE_SHOT = {
    "minio-init",
    "migrate-catalog",
    "migrate-results",
    "migrate-executor",
    "migrate-gateway",
}
"""The services that run once and exit."""
DATABASE_PROCESSES = ("catalog", "results", "executor", "gateway")
STORAGE_PROCESSES = ("catalog", "results")
DATA_DIR = "/var/lib/testops"
SECRETS_DIR = "/run/secrets"
"""Where compose mounts a secret whose ``target`` is a file name."""
KEY_FOLDER = "./secrets"
"""Where ``uv run testops-gateway keygen secrets`` writes the key pairs, beside the file."""

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")
"""``${NAME...}`` or ``$NAME``, once ``$$`` (a literal dollar) is taken out."""
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")
RANDOM_LOOKING = re.compile(r"tst_[\w-]{8,}|(?=[\w+/=-]*\d)(?=[\w+/=-]*[a-zA-Z])[\w+/=-]{24,}")
"""A token, a key or a hash written out: letters and digits, 24 in a row at least."""


@cache
def _load_compose() -> Compose:
    document: Compose = yaml.safe_load(COMPOSE.read_text())
    return document


def load_compose() -> Compose:
    """docker-compose.yml, anchors and merge keys resolved; a copy the caller may change."""
    return copy.deepcopy(_load_compose())


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from its mapping or its ``KEY=value`` list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def image_process(service: dict[str, Any]) -> str | None:
    """The TestOps process whose image a service runs (``testops-<process>:<tag>``), if any."""
    match = re.fullmatch(r"testops-([a-z]+):.+", str(service.get("image", "")))
    return match[1] if match and match[1] in SETTINGS else None


def process_services(compose: Compose) -> dict[str, str]:
    """Service name → its TestOps process, for the services that run one."""
    found = {name: image_process(service) for name, service in compose["services"].items()}
    return {name: process for name, process in found.items() if process}


def unknown_settings(compose: Compose) -> dict[str, list[str]]:
    """The variables each TestOps service is given that its process does not read (a misspelt
    name, another process's setting), by service; empty when every one is a real setting."""
    unknown = {
        name: unknown_variables(process, environment(compose["services"][name]))
        for name, process in process_services(compose).items()
    }
    return {name: names for name, names in unknown.items() if names}


def strings(node: object) -> Iterator[str]:
    """Every string value of a parsed YAML document (keys are not interpolated)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def interpolated(compose: Compose) -> set[str]:
    """The variables compose takes from the environment or .env."""
    names: set[str] = set()
    for text in strings(compose):
        for braced, bare in INTERPOLATION.findall(text.replace("$$", "")):
            names.add(braced or bare)
    return names


def env_example() -> dict[str, str]:
    """.env.example's variables and their values."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f".env.example: not NAME=value: {line!r}"
            found[name.strip()] = value.strip()
    return found


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """What a service waits for: dependency → condition."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def mounted_secrets(compose: Compose, name: str) -> dict[str, str]:
    """The secrets a service mounts: the path in its container → the file compose reads it from
    (``?`` for a secret that is not defined as a file)."""
    defined = compose.get("secrets") or {}
    mounted: dict[str, str] = {}
    for entry in compose["services"][name].get("secrets") or []:
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        path = target if target.startswith("/") else f"{SECRETS_DIR}/{target}"
        mounted[path] = str((defined.get(source) or {}).get("file", "?"))
    return mounted


def serving(compose: Compose) -> dict[str, str]:
    """The services that run a TestOps process (not a step before it) → the process."""
    return {name: p for name, p in process_services(compose).items() if name not in ONE_SHOT}


def key_problems(compose: Compose) -> list[str]:
    """What keeps the key pairs from reaching exactly the containers that need them: a process
    whose key setting does not name a secret it mounts from ./secrets (it would refuse to start,
    or results refuse the executor's uploads), a key given as a value instead of a file, and any
    container mounting a key half its process does not take (the migration steps take none)."""
    problems: list[str] = []
    running = serving(compose)
    for name, service in compose["services"].items():
        mounted = mounted_secrets(compose, name)
        needed = key_settings(running[name]) if name in running else {}
        prefix = f"TESTOPS_{running.get(name, '').upper()}_"
        env = environment(service)
        for setting, file in needed.items():
            path = env.get(f"{prefix}{setting}_FILE")
            if path != f"{SECRETS_DIR}/{file}":
                problems.append(f"{name}: {prefix}{setting}_FILE is {path!r}, not its secret")
            elif mounted.get(path) != f"{KEY_FOLDER}/{file}":
                problems.append(f"{name}: mounts no {KEY_FOLDER}/{file} at {path}")
            if env.get(f"{prefix}{setting}"):
                problems.append(f"{name}: {prefix}{setting} holds the key itself")
        wanted = {f"{SECRETS_DIR}/{file}" for file in needed.values()}
        problems += [
            f"{name}: mounts {path}, a key it does not need" for path in mounted.keys() - wanted
        ]
    return problems


def password_variable(database: str) -> str:
    """The variable of the password of a database's role, as postgres-init.sh reads it."""
    return f"{database.upper()}_DB_PASSWORD"


def users_of(compose: Compose, variable: str) -> set[str]:
    """The services whose definition interpolates a variable."""
    return {
        name
        for name, service in compose["services"].items()
        if variable in interpolated({"services": {name: service}})
    }


# --- the file


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as check-jsonschema vendors it (found through
    the installed distribution's files: importing check_jsonschema takes half a second)."""
    schema_file = importlib.metadata.distribution("check-jsonschema").locate_file(
        "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
    )
    schema: dict[str, Any] = json.loads(Path(str(schema_file)).read_text(encoding="utf-8"))
    return schema


def test_compose_file_follows_the_compose_specification() -> None:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(
        validator_class(schema).iter_errors(load_compose()), key=lambda e: list(e.absolute_path)
    )

    assert validator_class is jsonschema.Draft202012Validator
    first = errors[0] if errors else None
    assert first is None, f"{'/'.join(map(str, first.absolute_path))}: {first.message}"


def test_compose_file_has_no_version_key() -> None:
    """The Compose specification dropped it; compose warns that it is obsolete."""
    assert "version" not in load_compose()


# --- settings


def test_compose_runs_each_process_under_its_own_image() -> None:
    compose = load_compose()

    assert process_services(compose) == {
        **{process: process for process in SETTINGS},
        **{f"migrate-{process}": process for process in DATABASE_PROCESSES},
    }
    for name, process in process_services(compose).items():
        assert compose["services"][name]["build"]["target"] == process, name
        assert compose["services"][name]["build"]["dockerfile"] == "deploy/Dockerfile", name


def test_every_variable_compose_sets_is_a_setting_of_its_process() -> None:
    assert unknown_settings(load_compose()) == {}


@pytest.mark.parametrize(
    ("real", "wrong"),
    [
        ("TESTOPS_CATALOG_DATABASE_URL", "TESTOPS_CATALOG_DATABSE_URL"),
        ("TESTOPS_CATALOG_PORT", "TESTOPS_RESULTS_PORT"),
    ],
)
def test_the_settings_check_reports_a_misspelt_or_foreign_name(real: str, wrong: str) -> None:
    compose = load_compose()
    catalog = compose["services"]["catalog"]
    env = environment(catalog)
    env[wrong] = env.pop(real)
    catalog["environment"] = env

    assert unknown_settings(compose) == {"catalog": [wrong]}


def test_the_containers_keep_the_settings_contract() -> None:
    """The values the Kubernetes manifests and the native production mode rely on."""
    services = load_compose()["services"]
    user, key = "${MINIO_ROOT_USER}", "${MINIO_ROOT_PASSWORD}"
    expected: dict[str, dict[str, str]] = {
        process: {
            "HOST": "0.0.0.0",
            "PORT": str(default_port(process)),
            "LOG_FORMAT": "json",
            "DATA_DIR": DATA_DIR,
        }
        for process in SETTINGS
    }
    for process in DATABASE_PROCESSES:
        expected[process]["MIGRATE_ON_START"] = "false"
        expected[process]["DATABASE_URL"] = (
            f"postgresql://{process}:${{{password_variable(process)}}}@postgres:5432/{process}"
        )
    for process in STORAGE_PROCESSES:
        expected[process] |= {
            "STORAGE_URL": f"s3://testops/{process}",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": user,
            "S3_SECRET_ACCESS_KEY": key,
        }
    expected["results"]["SPOOL_DIR"] = f"{DATA_DIR}/spool"
    expected["executor"] |= {
        "RESULTS_URL": "http://results:8002",
        "WORKSPACE_DIR": f"{DATA_DIR}/work",
        "UV_CACHE_DIR": f"{DATA_DIR}/uv-cache",
    }
    expected["gateway"] |= {
        "CATALOG_URL": "http://catalog:8001",
        "RESULTS_URL": "http://results:8002",
        "EXECUTOR_URL": "http://executor:8003",
    }

    for process, settings in expected.items():
        env = environment(services[process])
        prefix = f"TESTOPS_{process.upper()}_"
        assert {name: env.get(prefix + name) for name in settings} == settings, process
        if process in DATABASE_PROCESSES:
            assert environment(services[f"migrate-{process}"]) == env, "migrate as it serves"
    for process in ("results", "executor"):
        assert f"{process}-data:{DATA_DIR}" in services[process]["volumes"], process


# --- .env and secrets


def test_every_variable_compose_interpolates_is_in_env_example() -> None:
    assert sorted(interpolated(load_compose()) - set(env_example())) == []


def test_env_example_lists_only_variables_compose_uses() -> None:
    assert sorted(set(env_example()) - interpolated(load_compose())) == []


def test_every_env_example_variable_is_explained_by_a_comment() -> None:
    """Each paragraph of variables opens with the comment that says what they are."""
    unexplained = [
        line.partition("=")[0]
        for paragraph in re.split(r"\n\s*\n", ENV_EXAMPLE.read_text())
        if not paragraph.lstrip().startswith("#")
        for line in paragraph.splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert unexplained == []


def test_env_example_leaves_every_secret_empty() -> None:
    values = env_example()
    secrets = {name: value for name, value in values.items() if SECRET_NAME.search(name)}

    assert set(secrets) >= {
        "POSTGRES_PASSWORD",
        *map(password_variable, DATABASE_PROCESSES),
        "MINIO_ROOT_PASSWORD",
        "TESTOPS_GATEWAY_TOKENS",
    }
    assert {name: value for name, value in secrets.items() if value} == {}
    assert [value for value in values.values() if RANDOM_LOOKING.search(value)] == []
    assert "openssl rand -hex 24" in ENV_EXAMPLE.read_text()
    assert "testops-gateway create-token" in ENV_EXAMPLE.read_text()


def test_compose_takes_every_secret_from_env() -> None:
    compose = load_compose()
    written_out = []
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", value):
                written_out.append(f"{name}: {key}")
            for password in re.findall(r"://[^/@\s]*:([^@\s]*)@", value):
                if not re.fullmatch(r"\$\{[A-Z_]+\}", password):
                    written_out.append(f"{name}: {key} (URL password)")
    literals = [
        text for text in strings(compose) if RANDOM_LOOKING.search(re.sub(r"\$\{[^}]*\}", "", text))
    ]

    assert written_out == []
    assert literals == []


def test_compose_refuses_to_start_without_the_secrets() -> None:
    required = {
        match[1]
        for text in strings(load_compose())
        for match in re.finditer(r"\$\{([A-Z_]+):\?[^}]+\}", text)
    }
    gateway_tokens = environment(load_compose()["services"]["gateway"])["TESTOPS_GATEWAY_TOKENS"]

    assert required == {
        "POSTGRES_PASSWORD",
        *map(password_variable, DATABASE_PROCESSES),
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "TESTOPS_GATEWAY_TOKENS",
    }
    assert "testops-gateway create-token" in gateway_tokens


def test_each_service_connects_as_its_own_role_with_a_password_only_it_has() -> None:
    compose = load_compose()
    postgres = environment(compose["services"]["postgres"])
    for process in DATABASE_PROCESSES:
        url = urlsplit(
            environment(compose["services"][process])[f"TESTOPS_{process.upper()}_DATABASE_URL"]
        )
        variable = password_variable(process)

        assert (url.username, url.hostname, url.path) == (process, "postgres", f"/{process}")
        assert url.password == f"${{{variable}}}"
        assert users_of(compose, variable) == {"postgres", process, f"migrate-{process}"}
        assert postgres[variable] == (
            f"${{{variable}:?set {variable} in .env (make one with: openssl rand -hex 24)}}"
        )


def test_every_container_with_a_database_shares_a_network_with_postgres() -> None:
    compose = load_compose()

    def networks(name: str) -> set[str]:
        return set(compose["services"][name].get("networks", ["default"]))

    with_database = {
        name
        for name, process in process_services(compose).items()
        if f"TESTOPS_{process.upper()}_DATABASE_URL" in environment(compose["services"][name])
    }

    assert with_database == {*DATABASE_PROCESSES, *(f"migrate-{p}" for p in DATABASE_PROCESSES)}
    assert [
        name for name in sorted(with_database) if not networks(name) & networks("postgres")
    ] == []


def test_only_the_postgres_container_has_the_superuser_password() -> None:
    compose = load_compose()
    superuser = environment(compose["services"]["postgres"])["POSTGRES_USER"]

    assert users_of(compose, "POSTGRES_PASSWORD") == {"postgres"}
    assert superuser not in DATABASE_PROCESSES  # no service connects as the superuser


def test_the_executor_gets_no_other_service_s_password() -> None:
    """The tests it runs can read its environment: they get the executor database's role."""
    compose = load_compose()
    for name in ("executor", "migrate-executor"):
        variables = interpolated({"services": {name: compose["services"][name]}})

        assert {variable for variable in variables if SECRET_NAME.search(variable)} == {
            "EXECUTOR_DB_PASSWORD"
        }, name
        assert [
            value
            for value in environment(compose["services"][name]).values()
            if value.startswith("postgresql://")
        ] == ["postgresql://executor:${EXECUTOR_DB_PASSWORD}@postgres:5432/executor"], name


# --- the key pairs


def test_every_process_gets_each_key_it_needs_and_no_container_another() -> None:
    """The gateway's private key in the gateway only, the executor's in the executor only; the
    public halves where they are checked; the migration steps none."""
    compose = load_compose()
    holders = {
        file: {
            name
            for name in compose["services"]
            if f"{SECRETS_DIR}/{file}" in mounted_secrets(compose, name)
        }
        for file in ("principal.pem", "principal.pub", "executor.pem", "executor.pub")
    }

    assert key_problems(compose) == []
    assert holders == {
        "principal.pem": {"gateway"},
        "principal.pub": {"catalog", "results", "executor"},
        "executor.pem": {"executor"},
        "executor.pub": {"results"},
    }


@pytest.mark.parametrize(
    ("service", "change", "reported"),
    [
        (
            "executor",
            lambda s: s["secrets"].pop(),
            "executor: mounts no ./secrets/executor.pem at /run/secrets/executor.pem",
        ),
        (
            "catalog",
            lambda s: s["secrets"].append({"source": "principal-private-key"}),
            "catalog: mounts /run/secrets/principal-private-key, a key it does not need",
        ),
        (
            "results",
            lambda s: s["environment"].pop("TESTOPS_RESULTS_EXECUTOR_PUBLIC_KEY_FILE"),
            "results: TESTOPS_RESULTS_EXECUTOR_PUBLIC_KEY_FILE is None, not its secret",
        ),
        (
            "migrate-gateway",
            lambda s: s.update(secrets=["principal-private-key"]),
            "migrate-gateway: mounts /run/secrets/principal-private-key, a key it does not need",
        ),
    ],
    ids=["missing", "foreign", "setting-missing", "migration-step"],
)
def test_the_key_check_reports_a_missing_or_a_foreign_key(
    service: str, change: Any, reported: str
) -> None:
    compose = load_compose()
    spec = compose["services"][service]
    spec["environment"] = environment(spec)
    change(spec)

    assert key_problems(compose) == [reported]


def test_the_key_pairs_are_files_of_the_git_ignored_secrets_folder() -> None:
    compose = load_compose()
    files = {name: spec.get("file") for name, spec in compose["secrets"].items()}

    assert sorted(files.values()) == sorted(
        f"{KEY_FOLDER}/{pair}.{half}" for pair in KEY_PAIRS for half in ("pem", "pub")
    )
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for file in files.values():
        check = subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", str(file)], cwd=ROOT, check=False
        )
        assert check.returncode == 0, f"{file} is not git-ignored"
    committed = subprocess.run(
        ["git", "ls-files", KEY_FOLDER], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert committed.stdout == ""


def test_the_env_file_is_git_ignored() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    check = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", ".env"], cwd=ROOT, check=False
    )

    assert check.returncode == 0, ".env is not in .gitignore"


# --- the services


def test_only_the_gateway_publishes_a_port() -> None:
    services = load_compose()["services"]
    publishing = {name: published(service) for name, service in services.items()}

    assert {name: ports for name, ports in publishing.items() if ports} == {
        "gateway": ["${TESTOPS_PORT:-8000}:8000"]
    }


def test_each_testops_service_runs_its_console_script() -> None:
    compose = load_compose()
    for name, process in process_services(compose).items():
        command = compose["services"][name].get("command") or image_cmd(process)
        expected = (
            [COMMANDS[process], "migrate"] if name.startswith("migrate-") else [COMMANDS[process]]
        )

        assert command == expected, name
        assert command[0] in console_scripts(process), name


def test_every_service_has_a_healthcheck_and_one_shot_steps_disable_theirs() -> None:
    services = load_compose()["services"]
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name in ONE_SHOT:
            assert check == {"disable": True}, name
        else:
            assert check.get("test"), f"{name} has no healthcheck"
    for name, process in process_services(load_compose()).items():
        if name not in ONE_SHOT:
            probe = " ".join(services[name]["healthcheck"]["test"])
            assert f"http://127.0.0.1:{default_port(process)}/readyz" in probe, name


def test_long_running_services_restart_and_steps_do_not() -> None:
    restart = {name: service.get("restart") for name, service in load_compose()["services"].items()}

    assert {name for name, policy in restart.items() if policy == "no"} == ONE_SHOT
    assert {name for name, policy in restart.items() if policy == "unless-stopped"} == (
        set(restart) - ONE_SHOT
    )


def test_services_start_once_what_they_need_is_ready() -> None:
    services = load_compose()["services"]
    healthy, done = "service_healthy", "service_completed_successfully"
    expected = {
        "postgres": {},
        "minio": {},
        "minio-init": {"minio": healthy},
        **{f"migrate-{p}": {"postgres": healthy} for p in DATABASE_PROCESSES},
        "catalog": {
            "postgres": healthy,
            "minio": healthy,
            "minio-init": done,
            "migrate-catalog": done,
        },
        "results": {
            "postgres": healthy,
            "minio": healthy,
            "minio-init": done,
            "migrate-results": done,
        },
        "executor": {"postgres": healthy, "migrate-executor": done, "results": healthy},
        "gateway": {
            "postgres": healthy,
            "migrate-gateway": done,
            "catalog": healthy,
            "results": healthy,
            "executor": healthy,
        },
    }

    assert {name: depends_on(service) for name, service in services.items()} == expected
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert condition == (done if dependency in ONE_SHOT else healthy), (name, dependency)


def test_external_images_are_pinned_to_a_release() -> None:
    images = {
        name: service["image"]
        for name, service in load_compose()["services"].items()
        if not image_process(service)
    }

    assert images["postgres"].startswith("postgres:16.")
    assert images["minio"].startswith("minio/minio:RELEASE.")
    assert images["minio-init"].startswith("minio/mc:RELEASE.")
    for image in images.values():
        assert re.search(r":(\d+\.\d+|RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z)", image), image


def test_the_executor_is_hardened() -> None:
    compose = load_compose()
    executor = compose["services"]["executor"]
    limits = executor["deploy"]["resources"]["limits"]
    tmpfs = executor["tmpfs"] if isinstance(executor["tmpfs"], list) else [executor["tmpfs"]]

    assert executor["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in executor["security_opt"]
    assert executor["read_only"] is True
    assert any(mount.split(":")[0] == "/tmp" for mount in tmpfs)
    assert limits["memory"]
    assert 0 < limits["pids"] <= 4096
    assert executor.get("init") is True
    assert not executor.get("privileged")
    assert "user" not in executor
    # Its only credential is its database's; the bucket is not even on its network.
    assert [name for name in environment(executor) if re.search(r"S3_|SECRET|TOKEN", name)] == []
    assert "storage" not in executor.get("networks", [])
    assert compose["networks"]["storage"]["internal"] is True
    assert set(compose["services"]["minio"]["networks"]) == {"storage"}


def test_the_executor_shares_no_network_with_the_catalog() -> None:
    """The suites it runs reach the catalog only through the gateway and its tokens."""
    services = load_compose()["services"]

    def networks(name: str) -> set[str]:
        return set(services[name].get("networks", ["default"]))

    assert networks("executor") & networks("catalog") == set()
    assert networks("catalog") & networks("gateway")
    assert networks("catalog") & networks("postgres")
    assert networks("migrate-catalog") & networks("postgres")
    assert load_compose()["networks"]["catalog"]["internal"] is True


def test_every_testops_service_drops_its_capabilities() -> None:
    services = load_compose()["services"]
    for name in process_services(load_compose()):
        assert services[name]["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in services[name]["security_opt"], name


# --- the PostgreSQL init script


def test_postgres_init_script_is_mounted_executable_with_the_database_names() -> None:
    postgres = load_compose()["services"]["postgres"]
    env = environment(postgres)
    names = env["POSTGRES_MULTIPLE_DATABASES"].split(",")

    assert os.access(POSTGRES_INIT, os.X_OK)
    assert POSTGRES_INIT.read_text().startswith("#!/usr/bin/env bash\n")
    assert any(
        mount.startswith("./deploy/compose/postgres-init.sh:/docker-entrypoint-initdb.d/")
        for mount in postgres["volumes"]
    )
    assert sorted(names) == sorted(DATABASE_PROCESSES)
    assert env["POSTGRES_USER"] == "testops"
    # The script reads the password of the role <name> from <NAME>_DB_PASSWORD.
    assert [password_variable(name) for name in names if password_variable(name) not in env] == []


def run_init(
    env: Mapping[str, str], names: str, passwords: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """postgres-init.sh for the databases ``names``, the roles' passwords by name."""
    variables = {password_variable(name): password for name, password in passwords.items()}
    return subprocess.run(
        [str(POSTGRES_INIT)],
        env={**env, "POSTGRES_MULTIPLE_DATABASES": names, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _no_server_env() -> dict[str, str]:
    """The environment without any role password, psql pointed at no server: the script fails
    on a connection when it makes one."""
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DB_PASSWORD")}
    return {**env, "PGHOST": "/nonexistent/testops-init", "PGCONNECT_TIMEOUT": "1"}


@pytest.mark.parametrize("results_password", [None, ""], ids=["missing", "empty"])
def test_postgres_init_script_stops_before_connecting_when_a_password_is_missing(
    results_password: str | None,
) -> None:
    passwords = {"catalog": "x1"} | ({} if results_password is None else {"results": ""})

    finished = run_init(_no_server_env(), "catalog,results", passwords)

    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr == (
        "postgres-init: RESULTS_DB_PASSWORD is not set: the password of the role results"
        " (make one with: openssl rand -hex 24)\n"
    )


def test_postgres_init_script_stops_before_connecting_on_a_name_that_is_not_one() -> None:
    finished = run_init(_no_server_env(), "catalog,Bad-Name", {"catalog": "x1"})

    assert finished.returncode == 2
    assert finished.stderr == "postgres-init: not a database name: 'Bad-Name'\n"


PASSWORD_METHODS = {"scram-sha-256", "md5", "password"}


def _postgres_env() -> dict[str, str]:
    url = postgres_test_url()
    if not url or shutil.which("psql") is None:
        pytest.skip("needs psql and a server in TESTOPS_TEST_POSTGRES_URL")
    parts = urlsplit(url)
    env = {**os.environ, "PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432)}
    env["POSTGRES_USER"] = parts.username or "postgres"
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return env


def _admin(env: Mapping[str, str], sql: str) -> str:
    """A query's rows (``a|b`` lines) as the server's superuser."""
    finished = subprocess.run(
        ["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--dbname", "postgres"]
        + ["--username", env["POSTGRES_USER"], "--set", "ON_ERROR_STOP=1", "--command", sql],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return finished.stdout.strip()


def _connect(
    env: Mapping[str, str], role: str, password: str, database: str
) -> subprocess.CompletedProcess[str]:
    """psql as ``role`` with ``password`` (no password file), over TCP, unencrypted, as
    :func:`_hba_method` assumes."""
    role_env = {**env, "PGPASSWORD": password, "PGPASSFILE": os.devnull}
    role_env |= {"PGSSLMODE": "disable", "PGGSSENCMODE": "disable"}
    return subprocess.run(
        ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--host", env["PGHOST"]]
        + ["--port", env["PGPORT"], "--username", role, "--dbname", database]
        + ["--command", "SELECT current_user || '@' || current_database()"],
        env=role_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _hba_method(env: Mapping[str, str], role: str, database: str) -> str | None:
    """The authentication pg_hba.conf asks of a new ``role`` (a member of no other) connecting
    to ``database`` as :func:`_connect` does: the method of the first line that matches, as the
    server picks it; ``reject`` when none does; None when a line this cannot judge (a host name,
    samehost, samenet, an included file) comes first."""
    client = _admin(env, "SELECT host(inet_client_addr())")
    rules = json.loads(
        _admin(
            env,
            # In the server's order: rule_number (PostgreSQL 16+, included files), else the line.
            "SELECT coalesce(json_agg(r ORDER BY (to_jsonb(r) ->> 'rule_number')::int,"
            " r.line_number), '[]') FROM pg_hba_file_rules r WHERE r.error IS NULL",
        )
    )
    if not client:
        return None  # over a socket: not what _connect does
    for rule in rules:
        databases, users, address = rule["database"], rule["user_name"], rule["address"]
        if rule["type"] not in ("host", "hostnossl", "hostnogssenc"):
            continue
        if any(name.startswith("@") for name in databases + users):
            return None
        # sameuser, samerole: the new role is a member of itself only.
        same = {"sameuser", "samerole", "samegroup"} if role == database else set()
        if not {"all", database, *same} & set(databases):
            continue
        if not {"all", role, f"+{role}"} & set(users):
            continue
        if address in ("samehost", "samenet"):
            return None
        if address != "all":
            try:
                network = ipaddress.ip_network(f"{address}/{rule['netmask']}", strict=False)
            except ValueError:
                return None  # a host name
            if ipaddress.ip_address(client) not in network:
                continue
        return str(rule["auth_method"])
    return "reject"


def _is_the_hash_of(stored: str, password: str, role: str) -> bool:
    """Whether ``stored`` (pg_authid.rolpassword) is ``password`` hashed, SCRAM or md5."""
    scram = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", stored)
    if scram is None:
        return (
            stored
            == "md5" + hashlib.md5((password + role).encode(), usedforsecurity=False).hexdigest()
        )
    iterations, salt, stored_key, server_key = scram.groups()
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return (stored_key, server_key) == (
        base64.b64encode(hashlib.sha256(client_key).digest()).decode(),
        base64.b64encode(hmac.digest(salted, b"Server Key", "sha256")).decode(),
    )


@dataclass(frozen=True)
class Initialized:
    """postgres-init.sh run twice on a server where, beforehand, the role and the database
    ``present`` existed, nothing of ``missing``, and ``foreign``'s database, owned by the
    superuser."""

    env: dict[str, str]
    stem: str
    present: str
    missing: str
    foreign: str
    given: dict[str, str]
    """The passwords the script was given, by role."""
    old_password: str
    """``present``'s password from before."""
    first: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    state: tuple[str, str]
    """The roles and databases after the first run, then after the second."""

    def password(self, role: str) -> str:
        """The password ``role`` should have."""
        return self.old_password if role == self.present else self.given[role]


@pytest.fixture(scope="module")
def initialized() -> Iterator[Initialized]:
    env = _postgres_env()
    stem = f"testops_init_{uuid.uuid4().hex[:8]}"
    present, missing, foreign = f"{stem}_present", f"{stem}_missing", f"{stem}_foreign"
    names = (present, missing, foreign)
    # Quotes, a dollar, a backslash, spaces: psql quotes the password, not the shell.
    given = {name: secrets.token_hex(24) for name in names}
    given[missing] = f"""p'w "$HOME\\ ;{secrets.token_hex(8)}"""
    old_password = secrets.token_hex(24)

    def state() -> str:
        roles = _admin(
            env,
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword "
            f"FROM pg_authid WHERE rolname LIKE '{stem}%' ORDER BY 1",
        )
        databases = _admin(
            env,
            "SELECT datname, pg_get_userbyid(datdba), datacl FROM pg_database "
            f"WHERE datname LIKE '{stem}%' ORDER BY 1",
        )
        return f"{roles}\n{databases}"

    _admin(env, f"CREATE ROLE \"{present}\" LOGIN PASSWORD '{old_password}'")
    _admin(env, f'CREATE DATABASE "{present}" OWNER "{present}"')
    _admin(env, f'CREATE DATABASE "{foreign}"')
    try:
        first = run_init(env, ",".join(names), given)
        after_first = state()
        again = run_init(env, ",".join(names), given)
        yield Initialized(
            env, stem, *names, given, old_password, first, again, (after_first, state())
        )
    finally:
        for name in names:
            _admin(env, f'DROP DATABASE IF EXISTS "{name}"')
        for name in names:
            _admin(env, f'DROP ROLE IF EXISTS "{name}"')


def test_postgres_init_script_creates_only_the_missing_roles_and_databases(
    initialized: Initialized,
) -> None:
    done = initialized
    present, missing, foreign = done.present, done.missing, done.foreign
    admin = done.env["POSTGRES_USER"]
    roles = _admin(
        done.env,
        "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit "
        f"FROM pg_roles WHERE rolname LIKE '{done.stem}%' ORDER BY 1",
    )
    owners = _admin(
        done.env,
        "SELECT datname, pg_get_userbyid(datdba), has_database_privilege('public', oid, 'CONNECT')"
        f" FROM pg_database WHERE datname LIKE '{done.stem}%' ORDER BY 1",
    )
    stored = dict(
        line.split("|", 1)
        for line in _admin(
            done.env,
            f"SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE '{done.stem}%'",
        ).splitlines()
    )

    assert (done.first.returncode, done.again.returncode) == (0, 0), done.first.stderr
    assert done.first.stdout.splitlines() == [
        f"postgres-init: role {present} exists, its password left as it is",
        f"postgres-init: database {present} exists",
        f"postgres-init: role {missing} created",
        f"postgres-init: database {missing} created, owned by {missing}",
        f"postgres-init: role {foreign} created",
    ]
    assert done.first.stderr == (
        f"postgres-init: database {foreign} exists, owned by {admin}, not by the role {foreign}:"
        " left as it is\n"
    )
    assert "created" not in done.again.stdout
    assert f"role {missing} exists" in done.again.stdout
    assert f"database {missing} exists" in done.again.stdout
    assert done.state[0] == done.state[1], "the second run changed nothing"
    # Plain login roles; each database owned by its role and closed to the others (PUBLIC).
    assert roles.splitlines() == [
        f"{name}|t|f|f|f|t" for name in sorted([foreign, missing, present])
    ]
    assert owners.splitlines() == [
        f"{foreign}|{admin}|t",
        f"{missing}|{missing}|f",
        f"{present}|{present}|f",
    ]
    # Each new role has the password it was given; the role that was there keeps its own.
    assert _is_the_hash_of(stored[missing], done.given[missing], missing)
    assert _is_the_hash_of(stored[foreign], done.given[foreign], foreign)
    assert _is_the_hash_of(stored[present], done.old_password, present)
    assert not _is_the_hash_of(stored[present], done.given[present], present)
    for run in (done.first, done.again):
        for password in done.given.values():
            assert password not in run.stdout + run.stderr


def test_a_role_connects_to_its_own_database_and_to_no_other(initialized: Initialized) -> None:
    done = initialized
    pairs = [(done.present, done.missing), (done.missing, done.present)]
    methods = {role: _hba_method(done.env, role, role) for role, _ in pairs}
    if not set(methods.values()) <= PASSWORD_METHODS | {"trust"}:
        pytest.skip(f"pg_hba.conf: {methods}: connections over TCP not checked")

    for role, other in pairs:
        own = _connect(done.env, role, done.password(role), role)
        foreign = _connect(done.env, role, done.password(role), other)

        assert own.returncode == 0, own.stderr
        assert own.stdout.strip() == f"{role}@{role}"
        assert foreign.returncode != 0
        assert f'permission denied for database "{other}"' in foreign.stderr
        if methods[role] in PASSWORD_METHODS:
            # The server checks the password here: only the role's own opens its database.
            wrong = _connect(done.env, role, done.given[other], role)
            assert wrong.returncode != 0
            assert f'password authentication failed for user "{role}"' in wrong.stderr
        # Under trust (a test server's 127.0.0.1) any password gets in: the stored hashes show
        # which password each role has (the test above).
    if methods[done.present] in PASSWORD_METHODS:
        ignored = _connect(done.env, done.present, done.given[done.present], done.present)
        assert ignored.returncode != 0, "the role that was there keeps its password"


def test_postgres_init_script_makes_nothing_when_a_password_is_missing() -> None:
    env = _postgres_env()
    stem = f"testops_init_{uuid.uuid4().hex[:8]}"
    first, second = f"{stem}_first", f"{stem}_second"
    try:
        finished = run_init(env, f"{first},{second}", {first: secrets.token_hex(24)})
        made = _admin(
            env,
            f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{stem}%' UNION ALL "
            f"SELECT datname FROM pg_database WHERE datname LIKE '{stem}%'",
        )

        assert finished.returncode == 2
        assert finished.stderr == (
            f"postgres-init: {password_variable(second)} is not set: the password of the role"
            f" {second} (make one with: openssl rand -hex 24)\n"
        )
        assert made == ""
    finally:
        for name in (first, second):
            _admin(env, f'DROP DATABASE IF EXISTS "{name}"')
            _admin(env, f'DROP ROLE IF EXISTS "{name}"')
