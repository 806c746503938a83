"""deploy/Dockerfile and .dockerignore: one image target per process, built with uv from the lock,
running its console script as a non-root user with a health check on its port.

The Dockerfile is read, not built (no Docker here); the health check commands are run for real
against a small HTTP server.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from tests.deploy.settings_names import COMMANDS, SETTINGS, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKEFILE = ROOT / "Makefile"
PROCESSES = sorted(SETTINGS)
APP_USER_ID = 10001
VENV = "/app/.venv"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    """Upper case: ``RUN``, ``COPY``, ..."""
    args: str


@dataclass
class Stage:
    name: str
    base: str
    """The image or the earlier stage it starts ``FROM``."""
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> dict[str, Stage]:
    """The stages of a Dockerfile by name, their instructions with continuations joined."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    logical = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        logical += line.rstrip()
        if logical.endswith("\\"):
            logical = logical[:-1] + " "
            continue
        if logical.strip():
            keyword, _, args = logical.strip().partition(" ")
            keyword, args = keyword.upper(), args.strip()
            if keyword == "FROM":
                words = args.split()
                base = words[0]
                name = words[2] if len(words) == 3 and words[1].upper() == "AS" else base
                current = stages[name] = Stage(name, base)
            else:
                assert current is not None, f"{keyword} before the first FROM"
                current.instructions.append(Instruction(keyword, args))
        logical = ""
    return stages


@cache
def dockerfile() -> dict[str, Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def chain(stages: dict[str, Stage], name: str) -> list[Instruction]:
    """The instructions a stage is made of: its ancestors' first, then its own."""
    stage = stages[name]
    inherited = chain(stages, stage.base) if stage.base in stages else []
    return [*inherited, *stage.instructions]


def last(stages: dict[str, Stage], name: str, keyword: str) -> str:
    """The arguments of the last ``keyword`` instruction of a stage, inherited or its own."""
    found = [i.args for i in chain(stages, name) if i.keyword == keyword]
    assert found, f"stage {name} has no {keyword}"
    return found[-1]


def image_env(stages: dict[str, Stage], name: str) -> dict[str, str]:
    """The ``ENV`` variables a stage sets (``KEY=value`` forms), inherited ones included."""
    env: dict[str, str] = {}
    for instruction in chain(stages, name):
        if instruction.keyword == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(instruction.args))
    return env


def image_cmd(target: str) -> list[str]:
    """The exec-form ``CMD`` of a target of deploy/Dockerfile."""
    cmd: list[str] = json.loads(last(dockerfile(), target, "CMD"))
    return cmd


def healthcheck_cmd(stages: dict[str, Stage], name: str) -> list[str]:
    args = last(stages, name, "HEALTHCHECK")
    assert " CMD [" in f" {args}", f"{name}: HEALTHCHECK is not in exec form: {args}"
    cmd: list[str] = json.loads(args[args.index("CMD [") + 4 :])
    return cmd


def copies(stages: dict[str, Stage], name: str) -> list[tuple[str | None, list[str]]]:
    """The ``COPY`` instructions of a stage's chain: the stage copied from (None: the build
    context) and the sources."""
    found: list[tuple[str | None, list[str]]] = []
    for instruction in chain(stages, name):
        if instruction.keyword != "COPY":
            continue
        words = instruction.args.split()
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        source = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        found.append((source, paths[:-1]))
    return found


def uv_syncs(stages: dict[str, Stage], name: str) -> list[list[str]]:
    """The arguments of each ``uv sync`` a stage runs."""
    return [
        shlex.split(i.args.split("uv sync", 1)[1])
        for i in chain(stages, name)
        if i.keyword == "RUN" and "uv sync" in i.args
    ]


def venv_stage(target: str) -> str:
    """The build stage whose virtual environment a target copies."""
    sources = [stage for stage, paths in copies(dockerfile(), target) if paths == [VENV]]
    assert len(sources) == 1, f"{target} copies {sources}"
    assert sources[0] is not None, f"{target} copies its environment from the build context"
    return sources[0]


def workspace_pyprojects() -> dict[str, Path]:
    """Each workspace member's project name → its pyproject.toml."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for pyproject in sorted(ROOT.glob(f"{pattern}/pyproject.toml")):
            found[tomllib.loads(pyproject.read_text())["project"]["name"]] = pyproject
    return found


def console_scripts(process: str) -> dict[str, str]:
    """The ``[project.scripts]`` of the process's package, ``testops-<process>``."""
    pyproject = workspace_pyprojects()[f"testops-{process}"]
    scripts: dict[str, str] = tomllib.loads(pyproject.read_text())["project"].get("scripts", {})
    return scripts


def default_port(process: str) -> int:
    port: int = SETTINGS[process].model_fields["port"].default
    return port


def test_the_dockerfile_has_a_target_for_each_process() -> None:
    assert set(PROCESSES) <= set(dockerfile())


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_runs_as_the_unprivileged_user(process: str) -> None:
    user = last(dockerfile(), process, "USER")

    # Numeric, so that Kubernetes' runAsNonRoot can verify it.
    assert user == f"{APP_USER_ID}:{APP_USER_ID}"


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_exposes_the_port_its_process_listens_on(process: str) -> None:
    stages = dockerfile()

    assert last(stages, process, "EXPOSE") == str(default_port(process))
    assert image_env(stages, process)[f"TESTOPS_{process.upper()}_PORT"] == str(
        default_port(process)
    )


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_runs_its_console_script(process: str) -> None:
    assert image_cmd(process) == [COMMANDS[process]]
    assert COMMANDS[process] in console_scripts(process)


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_sets_only_settings_of_its_process(process: str) -> None:
    env = image_env(dockerfile(), process)
    settings = [name for name in env if name.startswith("TESTOPS_")]

    assert settings, f"{process}: no TESTOPS_ variable set"
    assert unknown_variables(process, settings) == []
    assert env[f"TESTOPS_{process.upper()}_HOST"] == "0.0.0.0"
    assert env[f"TESTOPS_{process.upper()}_DATA_DIR"] == "/var/lib/testops"
    assert env["PATH"].startswith(f"{VENV}/bin:")


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_installs_its_own_package_from_the_lock(process: str) -> None:
    stages = dockerfile()
    build = venv_stage(process)
    syncs = uv_syncs(stages, build)
    env = image_env(stages, build)

    assert len(syncs) == 2, syncs
    for args in syncs:
        assert {"--frozen", "--no-dev", "--no-editable"} <= set(args), args
        assert args[args.index("--package") + 1] == f"testops-{process}"
    # First the dependencies alone (a layer cached until the lock changes), then the packages.
    assert {"--no-install-workspace", "--no-install-project"} & set(syncs[0])
    assert not {"--no-install-workspace", "--no-install-project"} & set(syncs[1])
    assert env["UV_PROJECT_ENVIRONMENT"] == VENV
    assert env["UV_COMPILE_BYTECODE"] == "1"
    assert env["UV_LINK_MODE"] == "copy"


@pytest.mark.parametrize("process", PROCESSES)
def test_the_dependency_layer_is_built_from_the_lock_and_pyproject_files_only(
    process: str,
) -> None:
    stages = dockerfile()
    build = venv_stage(process)
    instructions = chain(stages, build)
    first_sync = next(
        n for n, i in enumerate(instructions) if i.keyword == "RUN" and "uv sync" in i.args
    )
    copied = [
        source
        for i in instructions[:first_sync]
        if i.keyword == "COPY" and "--from=" not in i.args
        for source in i.args.split()[:-1]
    ]
    manifests = {str(path.relative_to(ROOT)) for path in workspace_pyprojects().values()} | {
        "pyproject.toml",
        "uv.lock",
    }

    assert copied, "nothing copied before the first uv sync"
    assert set(copied) == manifests, "every member's pyproject.toml and uv.lock, nothing else"


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_takes_only_the_virtual_environment_from_its_build(process: str) -> None:
    from_builds = [
        (stage, paths)
        for stage, paths in copies(dockerfile(), process)
        if stage is not None and stage.startswith("build-")
    ]

    assert from_builds == [(f"build-{process}", [VENV])]


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_installs_nothing_from_the_build_context(process: str) -> None:
    """The runtime images hold no source tree: everything comes from the build stages."""
    stages = dockerfile()
    runtime_stages = [process]
    while stages[runtime_stages[-1]].base in stages:
        runtime_stages.append(stages[runtime_stages[-1]].base)
    from_context = [
        i.args
        for name in runtime_stages
        for i in stages[name].instructions
        if i.keyword in {"COPY", "ADD"} and "--from=" not in i.args
    ]

    assert from_context == []


def test_the_results_image_has_the_allure_cli_the_makefile_pins() -> None:
    stages = dockerfile()
    pinned = re.findall(r"allure@(\S+)", MAKEFILE.read_text())
    installs = [i.args for name in stages for i in stages[name].instructions if "allure@" in i.args]
    assert len(installs) == 1, installs
    prefix = re.search(r"--prefix (\S+)", installs[0])

    assert len(pinned) == 1, pinned
    assert pinned[0] != "latest"
    assert re.findall(r"allure@(\S+)", installs[0]) == pinned
    assert prefix is not None
    cli = image_env(stages, "results")["TESTOPS_RESULTS_ALLURE_CLI"]
    assert cli == f"{prefix[1]}/node_modules/.bin/allure"
    assert any(paths == [prefix[1]] for _, paths in copies(stages, "results"))
    assert any(paths == ["/usr/local/bin/node"] for _, paths in copies(stages, "results"))


def test_the_executor_image_has_git_uv_and_certificates() -> None:
    stages = dockerfile()
    installs = " ".join(
        i.args for i in chain(stages, "executor") if "apt-get install" in i.args
    ).split()
    uv_copied = [
        (stage, paths)
        for stage, paths in copies(stages, "executor")
        if stage and stages[stage].base.startswith("ghcr.io/astral-sh/uv:")
    ]

    assert {"git", "ca-certificates"} <= set(installs)
    assert [paths for _, paths in uv_copied] == [["/uv"]]


def test_external_images_are_pinned_to_a_release() -> None:
    external = [stage.base for stage in dockerfile().values() if stage.base not in dockerfile()]

    assert {image.partition(":")[0] for image in external} == {
        "ghcr.io/astral-sh/uv",
        "node",
        "python",
    }
    for image in external:
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image), f"not pinned: {image}"
    assert any(image.startswith("python:3.11.") for image in external)


# --- the health checks, run


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(process: str, port: int) -> int:
    command = healthcheck_cmd(dockerfile(), process)
    assert command[0] == "python", "the slim images have no curl: Python it is"
    env = {**os.environ, f"TESTOPS_{process.upper()}_PORT": str(port)}
    finished = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=10, check=False
    )
    return finished.returncode


@pytest.mark.parametrize("process", PROCESSES)
def test_each_image_health_check_asks_healthz_on_the_process_port(
    process: str, health_server: http.server.HTTPServer
) -> None:
    port = health_server.server_address[1]
    command = " ".join(healthcheck_cmd(dockerfile(), process))

    assert "/healthz" in command
    assert f"'{default_port(process)}'" in command, "the default port when none is set"
    assert run_healthcheck(process, port) == 0
    _Health.status = 503
    try:
        assert run_healthcheck(process, port) != 0
    finally:
        _Health.status = 200


# --- the build context


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, pattern) for each line of .dockerignore, with Docker's wildcards."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = re.escape(pattern)
        regex = regex.replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        regex = re.sub(r"\\\[(.*?)\\?\]", r"[\1]", regex)
        rules.append((negated, re.compile(regex)))
    return rules


def ignored(path: str) -> bool:
    """Whether ``docker build`` leaves ``path`` out: the last rule that matches it or a folder
    above it decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    left_out = False
    for negated, pattern in dockerignore_rules():
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            left_out = not negated
    return left_out


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        ".testops/catalog.db",
        ".tools/allure/node_modules/.bin/allure",
        ".pytest_cache/README.md",
        "tests/conftest.py",
        "bench/ingest.py",
        "packages/kit/src/testops_kit/__pycache__/settings.cpython-311.pyc",
        "services/results/.venv/pyvenv.cfg",
    ],
)
def test_the_build_context_leaves_out_private_and_unneeded_files(path: str) -> None:
    assert ignored(path)


def test_the_build_context_holds_every_file_the_dockerfile_copies() -> None:
    sources = {
        source.rstrip("/")
        for stage in dockerfile()
        for origin, paths in copies(dockerfile(), stage)
        if origin is None
        for source in paths
    }
    files = [
        path.relative_to(ROOT).as_posix()
        for source in sources
        for path in ([ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]

    assert "services/catalog/src/testops_catalog/__main__.py" in files
    assert [path for path in files if ignored(path)] == []
