"""One report build: the run's files from storage, history from the database, the Allure 3 CLI,
the report's files back to storage.

1. *materialise* the run's allure-results folder in a private work folder: the raw result and
   container files of each upload (``uploads/<id>.jsonl.gz``, later uploads win) and every
   attachment from its content-addressed object;
2. write the *history* file the CLI reads (``historyPath``): one JSON line per earlier run of the
   same name, oldest first, with that run's effective results keyed by history id — what the CLI
   itself appends after a report;
3. run ``allure generate`` in its own process group, with a timeout, its output kept for the
   error;
4. *store* every file of the report under ``reports/<run_id>/<build_key>/``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gzip
import hashlib
import mimetypes
import os
import shutil
import signal
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import orjson

from testops_kit.database import Database
from testops_kit.logging import get_logger
from testops_kit.processes import make_work_folder, sweep_work_folders
from testops_kit.storage import Storage, first_error_task_group
from testops_results.models import Run
from testops_results.reports import repository
from testops_results.settings import ResultsSettings
from testops_results.uploads.blobs import blob_key

_CLI_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS")
"""The service's environment variables the Allure CLI is given."""

log = get_logger(__name__)

WORKDIR_PREFIX = "testops-report-"
CLI_INSTALL_PATH = Path(".tools/allure/node_modules/.bin/allure")
INSTALL_HINT = (
    "install it with `make allure` (npm install --prefix .tools/allure allure@3.18.0) or point "
    "TESTOPS_RESULTS_ALLURE_CLI at it"
)
ERROR_LINES = 30
"""Lines of the CLI's output kept as a failed build's error."""

HISTORY_NAMESPACE = uuid.UUID("6f1d3a52-8f7e-4c4e-9a57-3f0f7e1b2c11")
"""Earlier runs get stable history-point uuids: uuid5 of this and the run id."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a build ended."""

    status: str  # ready | failed
    error: str | None = None
    code: str | None = None
    uploads: int = 0
    history_runs: int = 0
    files: int = 0


class BuildFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def report_prefix(run_id: int, build_key: str) -> str:
    return f"reports/{run_id}/{build_key}/"


def find_allure_cli(configured: str | None) -> str | None:
    """The CLI to run: ``configured`` (a path, or a command on ``PATH``), else the one
    ``make allure`` installed in the working directory or a folder above it or above this
    package, else ``allure`` on ``PATH``; None when there is none."""
    if configured:
        if os.sep in configured or "/" in configured:
            path = Path(configured)
            return str(path) if path.is_file() and os.access(path, os.X_OK) else None
        return shutil.which(configured)
    for base in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        candidate = base / CLI_INSTALL_PATH
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("allure")


@dataclass(slots=True)
class Builder:
    database: Database
    storage: Storage
    settings: ResultsSettings

    _removals: set[asyncio.Task[None]] = field(default_factory=set)

    async def build(self, run_id: int, build_key: str) -> Outcome:
        """Build the report of ``run_id`` in a private folder under ``SPOOL_DIR`` and store it.
        The folder is removed in the background: removing 50,000 files takes a while, and
        whoever waits for the report need not wait for that."""
        workdir = await anyio.to_thread.run_sync(
            make_work_folder, WORKDIR_PREFIX, self.settings.spool_dir
        )
        try:
            return await self._build(run_id, build_key, workdir)
        finally:
            removal = asyncio.create_task(
                anyio.to_thread.run_sync(partial(shutil.rmtree, workdir, ignore_errors=True))
            )
            self._removals.add(removal)
            removal.add_done_callback(self._removals.discard)

    async def _build(self, run_id: int, build_key: str, workdir: Path) -> Outcome:
        uploads = history_runs = 0
        try:
            cli = find_allure_cli(self.settings.allure_cli)
            if cli is None:
                where = self.settings.allure_cli or f"{CLI_INSTALL_PATH} or `allure` on PATH"
                raise BuildFailed(
                    "allure_cli_missing",
                    f"The Allure 3 CLI was not found ({where}): {INSTALL_HINT}.",
                )
            results = workdir / "allure-results"
            output = workdir / "report"
            history = workdir / "history.jsonl"
            await anyio.to_thread.run_sync(lambda: results.mkdir())
            run, uploads = await self._materialise(run_id, results)
            history_runs = await self._write_history(run, history)
            config = workdir / "allurerc.json"
            config_text = orjson.dumps(
                {"name": run.name, "historyPath": str(history), "appendHistory": False}
            )
            await anyio.to_thread.run_sync(config.write_bytes, config_text)
            await self._generate(cli, workdir, results, output, config)
            files = await self._store(output, report_prefix(run_id, build_key))
            return Outcome("ready", uploads=uploads, history_runs=history_runs, files=files)
        except BuildFailed as exc:
            return Outcome("failed", str(exc), exc.code, uploads=uploads, history_runs=history_runs)

    # --- 1. the run's allure-results folder

    async def _materialise(self, run_id: int, folder: Path) -> tuple[Run, int]:
        async with self.database.session() as session:
            run = await session.get(Run, run_id)
            if run is None:
                raise BuildFailed("build_error", f"Run {run_id} no longer exists.")
            keys = await repository.upload_keys(session, run_id)
            attachments = await repository.attachment_contents(session, run_id)
        # The raw files (in upload order: a later upload's file wins) are written in one
        # thread while the attachments are copied by others.
        copies = [(blob_key(sha), folder / _plain_name(source)) for source, sha in attachments]
        async with first_error_task_group() as group:
            group.start_soon(self._unpack_uploads, keys, folder)
            group.start_soon(
                partial(self.storage.get_many, concurrency=self.settings.storage_concurrency),
                copies,
            )
        return run, len(keys)

    async def _unpack_uploads(self, keys: Sequence[str], folder: Path) -> None:
        for number, key in enumerate(keys):
            archive = folder.parent / f"upload-{number}.jsonl.gz"
            await self.storage.get_many([(key, archive)])
            await anyio.to_thread.run_sync(_unpack_raw, archive, folder)

    # --- 2. history

    async def _write_history(self, run: Run, path: Path) -> int:
        """Earlier runs of the same name as the CLI's history file; returns how many."""
        written = 0
        async with (
            self.database.session() as session,
            await anyio.open_file(path, "wb") as file,
        ):
            earlier = await repository.earlier_runs(
                session, run, limit=self.settings.report_history_limit
            )
            for previous in earlier:
                tests: dict[str, Any] = {}
                async for row in repository.effective_results(session, previous.id):
                    tests[row["history_id"]] = _history_test(row)
                await file.write(orjson.dumps(_history_point(previous, tests)) + b"\n")
                written += 1
        return written

    # --- 3. the CLI

    async def _generate(
        self, cli: str, workdir: Path, results: Path, output: Path, config: Path
    ) -> None:
        # The CLI is someone else's program: it gets none of the service's settings or
        # secrets (storage keys, database URL), only what running Node needs.
        env = {name: os.environ[name] for name in _CLI_ENV if name in os.environ}
        env.update(
            {
                "HOME": str(workdir),
                "NO_COLOR": "1",
                "FORCE_COLOR": "0",
                "ALLURE_NO_ANALYTICS": "true",
            }
        )
        try:
            process = await asyncio.create_subprocess_exec(
                cli,
                "generate",
                str(results),
                "--output",
                str(output),
                "--config",
                str(config),
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise BuildFailed(
                "allure_cli_missing",
                f"The Allure 3 CLI {cli} cannot be run ({exc}): {INSTALL_HINT}.",
            ) from None
        # A process of ours that died leaves this behind; the sweep stops the group.
        await anyio.to_thread.run_sync((workdir / "pgid").write_text, str(process.pid))
        tail: collections.deque[str] = collections.deque(maxlen=ERROR_LINES)

        async def read_output() -> None:
            assert process.stdout is not None
            partial = b""
            while chunk := await process.stdout.read(64 * 1024):
                *lines, partial = (partial + chunk).split(b"\n")
                tail.extend(_text(line) for line in lines if line.strip())
                partial = partial[-64 * 1024 :]  # a line with no end is kept short
            if partial.strip():
                tail.append(_text(partial))

        try:
            async with asyncio.timeout(self.settings.report_timeout_s):
                await read_output()
                code = await process.wait()
        except TimeoutError:
            raise BuildFailed(
                "allure_cli_timeout",
                f"The Allure CLI took longer than {self.settings.report_timeout_s} s and was "
                "stopped.\n" + "\n".join(tail),
            ) from None
        finally:
            if process.returncode is None:
                _kill_group(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(process.wait())
        if code != 0:
            raise BuildFailed(
                "allure_cli_failed",
                f"The Allure CLI exited with {code}:\n" + "\n".join(tail),
            )
        if not await anyio.to_thread.run_sync((output / "index.html").is_file):
            raise BuildFailed(
                "allure_cli_failed", "The Allure CLI wrote no index.html:\n" + "\n".join(tail)
            )

    # --- 4. storage

    async def _store(self, output: Path, prefix: str) -> int:
        return await self.storage.put_tree(
            prefix,
            output,
            content_type=content_type,
            concurrency=self.settings.storage_concurrency,
        )


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip()[:2000]


def _plain_name(name: str) -> str:
    """A file name that stays in the folder (uploads checked it already; this is the guard)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise BuildFailed("build_error", f"The run holds a file with an unsafe name: {name!r}.")
    return name


def _unpack_raw(archive: Path, folder: Path) -> None:
    """Write each ``{"file", "text"}`` line of an upload's raw archive as a file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with gzip.open(archive, "rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            entry = orjson.loads(line)
            # Plain os calls: a file object per file costs twice the time, over 40,000 files.
            descriptor = os.open(folder / _plain_name(entry["file"]), flags, 0o600)
            try:
                data = entry["text"].encode("utf-8")
                while data:
                    data = data[os.write(descriptor, data) :]
            finally:
                os.close(descriptor)
    archive.unlink()


def _history_test(row: dict[str, Any]) -> dict[str, Any]:
    """One test of a history point, as the Allure 3 CLI writes it."""
    labels = []
    for key in row["label_keys"] or []:
        name, _, value = key.partition(":")
        labels.append({"name": name, "value": value})
    item: dict[str, Any] = {
        "id": hashlib.md5(row["uuid"].encode()).hexdigest(),  # the CLI's test result id
        "name": row["name"],
        "fullName": row["full_name"],
        "status": row["status"],
        "message": row["message"],
        "trace": row["trace"],
        "start": row["start_ms"],
        "stop": row["stop_ms"],
        "duration": row["duration_ms"],
        "labels": labels,
        "url": "",
        "historyId": row["history_id"],
        "reportLinks": [],
    }
    return {key: value for key, value in item.items() if value is not None}


def _history_point(run: Run, tests: dict[str, Any]) -> dict[str, Any]:
    # Upload time, not start time: it grows with the run id, the order history is kept in.
    when: datetime = run.created_at
    return {
        "uuid": str(uuid.uuid5(HISTORY_NAMESPACE, str(run.id))),
        "name": run.name,
        "timestamp": int(when.timestamp() * 1000),
        "knownTestCaseIds": sorted({history_id.partition(".")[0] for history_id in tests}),
        "testResults": tests,
        "metrics": {},
        "url": "",
    }


CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
}


def content_type(name: str) -> str:
    """What a report file is served as."""
    suffix = Path(name).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def sweep_workdirs(base: Path | None) -> int:
    """Remove the work folders of builds whose process is gone (and stop their CLI)."""

    def stop_cli(path: Path) -> None:
        with contextlib.suppress(OSError, ValueError):
            _kill_group(int((path / "pgid").read_text()))

    return sweep_work_folders(WORKDIR_PREFIX, base, before_removal=stop_cli)
