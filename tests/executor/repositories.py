"""Real git repositories of small pytest projects, made in temp folders and reached as
``file:///…/name.git`` bare repositories, the way the executor clones them.

Each project is locked with ``uv lock`` (a real ``uv.lock``), committed on ``main`` and cloned
``--bare``. The hanging one starts a background ``sleep`` that would outlive pytest unless its
whole process group is stopped, and writes the pids to a folder baked into its test file, so a
test can check afterwards that nothing of it is left.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "TestOps tests",
    "GIT_AUTHOR_EMAIL": "tests@testops.invalid",
    "GIT_COMMITTER_NAME": "TestOps tests",
    "GIT_COMMITTER_EMAIL": "tests@testops.invalid",
    # Nobody's own git configuration (hooks, templates, signing) takes part.
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}

PASSING_TESTS = ("test_login_works", "test_logout_works", "test_profile_loads")
NOISY_SUITE = "noisy/test_noisy.py"
"""A test of the passing repository that prints ~200 KB (run with ``{"s": true}``)."""
SLOW_SUITE = "slow/"
"""A test of the passing repository that takes 3 s: long enough to watch its log grow."""


@dataclass(frozen=True, slots=True)
class Repo:
    name: str
    url: str
    """``file:///…/name.git``"""
    head: str
    """The sha of ``main``'s commit."""


@dataclass(frozen=True, slots=True)
class Repos:
    passing: Repo
    """3 tests that pass (one is ``test_login_works``) in ``tests/``; ``noisy/``, ``slow/``."""
    failing: Repo
    """pass, fail, pass — in that order — in ``tests/``."""
    hanging: Repo
    """One test in ``tests/`` that sleeps 600 s with a background ``sleep 600`` child."""
    no_tests: Repo
    """``tests/test_nothing.py`` defines no test: pytest exits 5."""
    no_python: Repo
    """Only a README: nothing to install."""
    requirements: Repo
    """``requirements.txt`` instead of ``pyproject.toml``; 2 tests that pass."""
    stubborn: Repo
    """Like ``hanging``, but its pytest notes SIGTERM and sleeps on: only KILL stops it."""
    environment: Repo
    """2 tests that pass only in an environment holding nothing of the executor's."""
    peeking: Repo
    """1 test that prints (run it with ``{"s": true}``) whatever it can find of the executor's
    upload key: its environment, the key or its file as the executor's settings would name
    them, its ancestors' command lines, and any PEM key in its workspace."""


def pyproject(name: str) -> str:
    return (
        "[project]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        'requires-python = ">=3.11"\n'
        'dependencies = ["pytest>=8"]\n'
    )


def _run(args: list[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    answer = subprocess.run(
        args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    assert answer.returncode == 0, f"{' '.join(args)} failed:\n{answer.stdout}\n{answer.stderr}"
    return answer.stdout


def make_repo(
    root: Path, name: str, files: Mapping[str, str], *, uv_cache_dir: Path, lock: bool
) -> Repo:
    """Write ``files`` into a new project, ``uv lock`` it when ``lock``, commit it on ``main``
    and clone it bare; the bare clone is what the executor is given."""
    work = root / name
    for relative, text in files.items():
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if lock:
        _run(["uv", "lock"], cwd=work, env={"UV_CACHE_DIR": str(uv_cache_dir)})
        assert (work / "uv.lock").is_file()
    _run(["git", "init", "--quiet", "--initial-branch=main"], cwd=work, env=GIT_IDENTITY)
    _run(["git", "add", "--all"], cwd=work, env=GIT_IDENTITY)
    _run(["git", "commit", "--quiet", "-m", f"{name}: first commit"], cwd=work, env=GIT_IDENTITY)
    head = _run(["git", "rev-parse", "HEAD"], cwd=work, env=GIT_IDENTITY).strip()
    bare = root / f"{name}.git"
    _run(["git", "clone", "--quiet", "--bare", str(work), str(bare)], cwd=root, env=GIT_IDENTITY)
    return Repo(name=name, url=f"file://{bare}", head=head)


def _hanging_test(pid_dir: Path, *, ignore_term: bool = False) -> str:
    """A test that sleeps 600 s with a background ``sleep 600``; with ``ignore_term`` it
    notes a SIGTERM in ``<name>.term`` and sleeps on (only KILL stops it)."""
    on_term = (
        "\n"
        "    def note_term(signum, frame):\n"
        '        (PID_DIR / f"{name}.term").write_text("TERM")\n'
        "\n"
        "    signal.signal(signal.SIGTERM, note_term)\n"
        if ignore_term
        else ""
    )
    return f"""\
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

PID_DIR = Path({str(pid_dir)!r})


@pytest.fixture
def background_child():
    name = uuid.uuid4().hex
{on_term}
    # A process that outlives pytest unless the whole process group is stopped.
    child = subprocess.Popen(["sleep", "600"])
    record = {{"name": name, "pytest": os.getpid(), "sleep": child.pid, "cwd": os.getcwd()}}
    partial = PID_DIR / f".{{name}}.partial"
    partial.write_text(json.dumps(record))
    partial.rename(PID_DIR / f"{{name}}.json")
    yield child


def test_hangs(background_child):
    time.sleep(600)
"""


ENVIRONMENT_CANARY = "canary-s3cret"
"""Part of every secret the executor of the environment test holds; no test may see it."""

ENVIRONMENT_TEST = f"""\
import os
from pathlib import Path


def test_the_environment_holds_nothing_of_the_executor():
    leaked = sorted(
        key
        for key, value in os.environ.items()
        if key.upper().startswith("TESTOPS_") or {ENVIRONMENT_CANARY!r} in value
    )
    assert leaked == []
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


def test_home_and_tmpdir_are_inside_the_workspace():
    workspace = Path.cwd().parent
    assert Path(os.environ["HOME"]).is_relative_to(workspace)
    assert Path(os.environ["TMPDIR"]).is_relative_to(workspace)
"""


PEEKING_TEST = """\
import os
from pathlib import Path

SETTINGS = ("TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY", "TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY_FILE")
# Joined as it runs: this file and its bytecode must not hold what they look for.
PEM_MARKER = " ".join(["PRIVATE", "KEY"])


def test_prints_what_it_finds_of_the_executors_key():
    for key, value in sorted(os.environ.items()):
        print(f"env {key}={value}")
    for name in SETTINGS:
        value = os.environ.get(name)
        print(f"setting {name}={value}")
        if value and Path(value).is_file():
            print(f"file {value}: {Path(value).read_text()}")
    pid = os.getpid()
    while pid > 1:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\\0", b" ")
        print(f"cmdline {pid}: {cmdline.decode(errors='replace')}")
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    workspace = Path.cwd().parent
    for path in sorted(workspace.rglob("*")):
        if ".venv" in path.parts or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        text = path.read_text(errors="replace")
        if PEM_MARKER in text:
            print(f"key in {path}: {text}")
    print("peeked")
"""


PASSING_FILES = {
    "tests/test_app.py": "".join(
        f"def {name}():\n    assert {index} + 1 == {index + 1}\n\n\n"
        for index, name in enumerate(PASSING_TESTS)
    ).rstrip()
    + "\n",
    NOISY_SUITE: (
        "def test_prints_a_lot():\n"
        "    for line in range(4000):\n"
        "        print(f'noise line {line:05d} ' + 'x' * 40)\n"
    ),
    "slow/test_slow.py": (
        "import time\n\n\n"
        "def test_takes_a_while():\n"
        "    print('started', flush=True)\n"
        "    time.sleep(3)\n"
    ),
}

FAILING_FILES = {
    "tests/test_app.py": (
        "def test_first_passes():\n    assert True\n\n\n"
        "def test_second_fails():\n    assert 1 + 1 == 3\n\n\n"
        "def test_third_passes():\n    assert True\n"
    ),
}


def make_repos(root: Path, *, pid_dir: Path, uv_cache_dir: Path) -> Repos:
    """Every project the executor tests clone."""

    def project(name: str, files: Mapping[str, str]) -> Repo:
        return make_repo(
            root,
            name,
            {"pyproject.toml": pyproject(name), **files},
            uv_cache_dir=uv_cache_dir,
            lock=True,
        )

    return Repos(
        passing=project("passing", PASSING_FILES),
        failing=project("failing", FAILING_FILES),
        hanging=project("hanging", {"tests/test_hang.py": _hanging_test(pid_dir)}),
        stubborn=project(
            "stubborn", {"tests/test_hang.py": _hanging_test(pid_dir, ignore_term=True)}
        ),
        environment=project("environment", {"tests/test_environment.py": ENVIRONMENT_TEST}),
        peeking=project("peeking", {"tests/test_peeking.py": PEEKING_TEST}),
        no_tests=project("no-tests", {"tests/test_nothing.py": "# no tests here yet\n"}),
        no_python=make_repo(
            root,
            "no-python",
            {"README.md": "# Not a Python project\n"},
            uv_cache_dir=uv_cache_dir,
            lock=False,
        ),
        requirements=make_repo(
            root,
            "requirements",
            {
                "requirements.txt": "pytest>=8\n",
                "tests/test_app.py": (
                    "def test_one():\n    assert True\n\n\ndef test_two():\n    assert True\n"
                ),
            },
            uv_cache_dir=uv_cache_dir,
            lock=False,
        ),
    )


@dataclass(frozen=True, slots=True)
class HangingPids:
    """What a run of the hanging repository wrote: its pytest and its background ``sleep``."""

    name: str
    pytest: int
    sleep: int
    cwd: str

    @classmethod
    def read(cls, path: Path) -> HangingPids:
        record = json.loads(path.read_text())
        return cls(
            name=record["name"], pytest=record["pytest"], sleep=record["sleep"], cwd=record["cwd"]
        )

    def got_term(self, pid_dir: Path) -> bool:
        """Whether a stubborn run's pytest has been sent SIGTERM."""
        return (pid_dir / f"{self.name}.term").exists()


def pid_files(pid_dir: Path) -> set[Path]:
    return set(pid_dir.glob("*.json"))
