"""One execution, start to end: clone → sync → test → upload, in a workspace removed after.

The commands run from other people's repositories, so every one of them gets its own process
group, a clean environment (nothing of the executor's settings or secrets), and a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from testops_executor.pipeline.checks import has_pytest_config, pytest_options
from testops_executor.pipeline.logs import ExecutionLog
from testops_executor.pipeline.process import PhaseTimeout, run_command
from testops_executor.pipeline.uploads import RESULTS_AUDIENCE, upload_principal
from testops_executor.settings import ExecutorSettings
from testops_kit.logging import get_logger
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.principal import PrincipalSigner

log = get_logger(__name__)

EXIT_OUTCOMES = {0: "passed", 1: "tests_failed", 5: "no_tests"}
EXIT_FAILURES = {2: "pytest_usage_error", 3: "pytest_internal_error", 4: "pytest_usage_error"}


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    repo_url: str
    branch: str | None
    suite_name: str
    suite_params: dict[str, Any]
    run_name: str
    timeout_s: int
    project: str
    created_by: str | None = None


@dataclass(slots=True)
class Finished:
    status: str
    outcome: str
    failure_reason: str | None = None
    exit_code: int | None = None
    error: str | None = None
    run_id: int | None = None
    commit: str | None = None


class StepFailed(Exception):
    """A phase could not do its work; ``reason`` is the execution's ``failure_reason``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass
class Runner:
    settings: ExecutorSettings
    results: httpx.AsyncClient
    set_phase: Callable[[str], Awaitable[None]]
    signer: PrincipalSigner
    commit: str | None = field(default=None, init=False)
    _workspace: Path | None = field(default=None, init=False)

    def _tools_path(self) -> str:
        folders: list[str] = []
        for tool in ("git", "uv"):
            found = shutil.which(tool)
            if found:
                folders.append(str(Path(found).parent))
        folders.append(str(Path(sys.executable).parent))
        folders += ["/usr/local/bin", "/usr/bin", "/bin"]
        return os.pathsep.join(dict.fromkeys(folders))

    def _child_env(self, workspace: Path) -> dict[str, str]:
        """What the repository's commands see: nothing of the executor's own environment."""
        home = workspace / "home"
        passed = {
            name: os.environ[name]
            for name in self.settings.child_env
            if name in os.environ and not name.upper().startswith("TESTOPS_")
        }
        return {
            **passed,
            "PATH": self._tools_path(),
            "HOME": str(home),
            "TMPDIR": str(workspace / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "UV_CACHE_DIR": str(self.settings.resolved_uv_cache_dir),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PYTHONUNBUFFERED": "1",
            "CI": "true",
        }

    def _git_env(self, workspace: Path) -> dict[str, str]:
        config = [("protocol.allow", "never"), ("core.hooksPath", "/dev/null")]
        config += [(f"protocol.{s}.allow", "always") for s in self.settings.allowed_repo_schemes]
        if self.settings.git_http_header is not None:
            # In git's environment only: not on its command line, in the log or the database.
            config.append(("http.extraHeader", self.settings.git_http_header.get_secret_value()))
        env = {
            **self._child_env(workspace),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_COUNT": str(len(config)),
        }
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    async def run(self, job: Job, workspace: Path, out: ExecutionLog) -> Finished:
        """Run ``job`` in ``workspace``; the caller removes the workspace."""
        self._workspace = workspace
        deadline = time.monotonic() + job.timeout_s
        for folder in ("home", "tmp"):
            (workspace / folder).mkdir(parents=True, exist_ok=True)
        checkout = workspace / "checkout"
        results = workspace / "allure-results"

        def left(limit: float) -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PhaseTimeout(f"the execution did not finish within its {job.timeout_s} s")
            return min(limit, remaining)

        try:
            await self.set_phase("cloning")
            await self._clone(job, workspace, checkout, out, left(self.settings.clone_timeout_s))
            await self.set_phase("syncing")
            await self._sync(workspace, checkout, out, left(self.settings.sync_timeout_s))
            await self.set_phase("testing")
            code = await self._test(job, workspace, checkout, results, out, left(job.timeout_s))
            if code in EXIT_FAILURES:
                return Finished(
                    "failed",
                    "error",
                    EXIT_FAILURES[code],
                    exit_code=code,
                    error=f"pytest exited with {code}",
                    commit=self.commit,
                )
            if code not in EXIT_OUTCOMES:
                return Finished(
                    "failed",
                    "error",
                    "pytest_internal_error",
                    exit_code=code,
                    error=f"pytest exited with {code}",
                    commit=self.commit,
                )
            run_id = None
            if any(results.iterdir()) if results.is_dir() else False:
                await self.set_phase("uploading")
                run_id = await self._upload(
                    job, workspace, results, out, left(self.settings.upload_timeout_s)
                )
            return Finished(
                "completed", EXIT_OUTCOMES[code], exit_code=code, run_id=run_id, commit=self.commit
            )
        except PhaseTimeout as exc:
            out.line(f"stopped: {exc}")
            return Finished("failed", "timed_out", "timeout", error=str(exc), commit=self.commit)
        except StepFailed as exc:
            out.line(f"failed: {exc}")
            return Finished("failed", "error", exc.reason, error=str(exc), commit=self.commit)

    async def _command(
        self,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        out: ExecutionLog,
        limit_s: float,
        reason: str,
    ) -> int:
        """Run one command of a step; ``reason`` is the step's failure reason when the command
        cannot be run at all."""
        out.line("$ " + " ".join(args))
        began = time.monotonic()
        try:
            code = await run_command(
                args,
                cwd=cwd,
                env=env,
                log=out,
                timeout_s=limit_s,
                kill_grace_s=self.settings.kill_grace_s,
                workspace=self._workspace,
            )
        except (FileNotFoundError, PermissionError) as exc:
            # The executor's host lacks a tool it needs: the operator's to fix, said plainly.
            raise StepFailed(
                reason,
                f"`{args[0]}` cannot be run on the executor ({type(exc).__name__}): "
                f"install it on the executor's PATH",
            ) from None
        out.line(f"exit {code} after {time.monotonic() - began:.1f} s")
        return code

    async def _clone(
        self, job: Job, workspace: Path, checkout: Path, out: ExecutionLog, limit_s: float
    ) -> None:
        args = ["git", "clone", "--depth", "1", "--single-branch", "--no-tags"]
        args += ["--no-recurse-submodules"]
        if job.branch:
            args += ["--branch", job.branch]
        args += ["--", job.repo_url, str(checkout)]
        env = self._git_env(workspace)
        code = await self._command(
            args, cwd=workspace, env=env, out=out, limit_s=limit_s, reason="clone_failed"
        )
        if code != 0:
            raise StepFailed("clone_failed", "git clone failed (see the log)")
        head = await asyncio.create_subprocess_exec(
            "git",
            "rev-parse",
            "HEAD",
            cwd=checkout,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        stdout, _ = await head.communicate()
        self.commit = stdout.decode().strip() or None

    async def _sync(
        self, workspace: Path, checkout: Path, out: ExecutionLog, limit_s: float
    ) -> None:
        env = self._child_env(workspace)
        if (checkout / "uv.lock").is_file():
            commands = [["uv", "sync", "--frozen"]]
        elif (checkout / "pyproject.toml").is_file():
            commands = [["uv", "sync"]]
        elif (checkout / "requirements.txt").is_file():
            commands = [["uv", "venv"], ["uv", "pip", "install", "-r", "requirements.txt"]]
        else:
            raise StepFailed(
                "sync_failed", "no uv.lock, pyproject.toml or requirements.txt in the repository"
            )
        for args in commands:
            code = await self._command(
                args, cwd=checkout, env=env, out=out, limit_s=limit_s, reason="sync_failed"
            )
            if code != 0:
                raise StepFailed("sync_failed", f"`{' '.join(args)}` failed (see the log)")

    async def _test(
        self,
        job: Job,
        workspace: Path,
        checkout: Path,
        results: Path,
        out: ExecutionLog,
        limit_s: float,
    ) -> int:
        frozen = ["--frozen"] if (checkout / "uv.lock").is_file() else []
        args = ["uv", "run", *frozen, "--with", "allure-pytest", "pytest", job.suite_name]
        args += ["--alluredir", str(results), *pytest_options(job.suite_params)]
        if not await anyio.to_thread.run_sync(has_pytest_config, checkout, job.suite_name):
            # A repository without a configuration runs as it would on its own: with none, its
            # root as pytest's rootdir — not with one found above the workspace.
            empty = workspace / "config" / "pytest.ini"  # not in the checkout's parents

            def write_empty() -> None:
                empty.parent.mkdir(exist_ok=True)
                empty.write_text("[pytest]\n")

            await anyio.to_thread.run_sync(write_empty)
            args += ["-c", str(empty), "--rootdir", str(checkout)]
        return await self._command(
            args,
            cwd=checkout,
            env=self._child_env(workspace),
            out=out,
            limit_s=limit_s,
            reason="pytest_internal_error",
        )

    async def _upload(
        self, job: Job, workspace: Path, results: Path, out: ExecutionLog, limit_s: float
    ) -> int:
        archive = workspace / "allure-results.tar.gz"
        await anyio.to_thread.run_sync(_pack, results, archive)
        attempts = self.settings.upload_attempts
        principal = upload_principal(
            execution_id=job.id, project=job.project, created_by=job.created_by
        )
        for attempt in range(1, attempts + 1):
            # Signed afresh for each attempt: a principal lives seconds, retries wait longer.
            headers = {PRINCIPAL_HEADER: self.signer.sign(principal, audience=RESULTS_AUDIENCE)}
            try:
                with archive.open("rb") as body:
                    answer = await self.results.post(
                        "/api/v1/runs",
                        headers=headers,
                        data={
                            "run_name": job.run_name,
                            "execution_id": job.id,
                            **({"branch": job.branch} if job.branch else {}),
                            **({"commit": self.commit} if self.commit else {}),
                        },
                        files={"files": ("allure-results.tar.gz", body, "application/gzip")},
                        timeout=limit_s,
                    )
                if answer.status_code == 201:
                    run_id = int(answer.json()["id"])
                    out.line(f"uploaded: run {run_id}")
                    return run_id
                if answer.status_code < 500 and answer.status_code != 429:
                    raise StepFailed(
                        "upload_failed",
                        f"the results service refused the upload: {answer.status_code} "
                        f"{answer.text[:300]}",
                    )
                problem = f"{answer.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            out.line(f"upload attempt {attempt} of {attempts} failed: {problem}")
            if attempt < attempts:
                await asyncio.sleep(min(2 ** (attempt - 1), 10))
        raise StepFailed("upload_failed", f"the upload failed {attempts} times")


def _pack(folder: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=path.name)
