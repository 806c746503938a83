"""Benchmark of the results service's report build, request to ready, beside `allure generate`.

Generates (once, cached in the temp folder) allure-results shaped like allure-pytest's output
(10,000 results, 30,000 containers, 2,000 attachments; bench/ingest.py's generator) and their
.tar.gz, starts the results service as a child process (a fresh PostgreSQL database, or SQLite
with ``--sqlite``; local-folder storage), and for each round uploads the archive as a new run
(untimed), then, in alternating order: times ``POST /api/v1/runs/{id}/report`` until
``GET /api/v1/runs/{id}/report`` says ``ready`` (polled every 50 ms), and times the Allure 3 CLI's
``allure generate`` on the same allure-results folder with the same kind of config file the
service writes. A watcher thread places the build's phases (queue, materialise, history, CLI,
store) from the build's work folder and the CLI's process. See bench/README.md.

    uv run python bench/report.py
    uv run python bench/report.py --rounds 5 --strict
    uv run python bench/report.py --sqlite --same-name
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.engine import make_url

from ingest import (
    MB,
    STATUS_WEIGHTS,
    Generated,
    admin,
    check_run,
    generate,
    loadavg,
    pack,
)
from testops_kit.testing import PrincipalAuth, ServiceProcess, service_process

SERVER_ENV = "TESTOPS_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLI = REPO / ".tools" / "allure" / "node_modules" / ".bin" / "allure"
CACHE = Path(tempfile.gettempdir()) / "testops-bench-report-cache"
CACHE_VERSION = 1  # bump when the data's recipe changes: the cache is keyed by it
RUNS = "/api/v1/runs"
POLL_S = 0.05
WATCH_S = 0.01
WORKDIR_PREFIX = "testops-report-"  # testops_results.reports.builder.WORKDIR_PREFIX
CLI_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS")
"""What the builder passes on to the CLI of the service's environment (its ``_CLI_ENV``)."""

GOAL_RATIO = 1.3  # API request-to-ready / bare `allure generate`


# --- the data set (cached) ----------------------------------------------------------------------


@dataclass
class Data:
    folder: Path
    archive: Path
    gen: Generated
    built_s: float | None  # None when it came from the cache


def cached_data(results: int, containers: int, attachments: int, seed: int) -> Data:
    """The allure-results folder and its .tar.gz, built once and kept in CACHE."""
    stem = f"r{results}-c{containers}-a{attachments}-s{seed}-v{CACHE_VERSION}"
    folder, archive, meta = (
        CACHE / f"{stem}-results",
        CACHE / f"{stem}.tar.gz",
        CACHE / f"{stem}.json",
    )
    if folder.is_dir() and archive.exists() and meta.exists():
        data = json.loads(meta.read_text())
        gen = Generated(folder=folder, **{**data, "statuses": Counter(data["statuses"])})
        return Data(folder, archive, gen, None)
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in (folder, archive, meta):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)
    began = time.perf_counter()
    building = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        gen = generate(
            building,
            results=results,
            containers=containers,
            attachments=attachments,
            big_attachments=0,
            big_mb=0,
            seed=seed,
        )
        partial = CACHE / f"{stem}.{uuid.uuid4().hex[:8]}.partial"
        pack(building, partial, "tar.gz")
        partial.rename(archive)
        building.rename(folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    counts = {
        "results": gen.results,
        "containers": gen.containers,
        "attachments": gen.attachments,
        "big_attachments": gen.big_attachments,
        "tests": gen.tests,
        "retried_tests": gen.retried_tests,
        "retry_attempts": gen.retry_attempts,
        "statuses": dict(gen.statuses),
        "bytes": gen.bytes,
        "seconds": gen.seconds,
    }
    meta.write_text(json.dumps(counts))  # written last: the set is complete
    gen.folder = folder
    return Data(folder, archive, gen, time.perf_counter() - began)


# --- watching a build ---------------------------------------------------------------------------


class BuildWatch:
    """Every 10 ms: the build's work folder under the spool folder (which files it has) and the
    CLI's processes under the service; times are epoch seconds, first seen."""

    def __init__(self, spool: Path, service_pid: int) -> None:
        self.spool = spool
        self.earlier = set(spool.glob(f"{WORKDIR_PREFIX}*"))
        self.service = psutil.Process(service_pid)
        self.seen: dict[str, float] = {}
        self.cli_start: float | None = None
        self.cli_end: float | None = None
        self.cli_cpu = 0.0  # last sample of the CLI's processes (user + system)
        self.cli_peak_rss = 0
        self._cli_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.service_cpu_before = self._own_cpu()
        self.service_cpu = 0.0

    def _own_cpu(self) -> float:
        times = self.service.cpu_times()
        return times.user + times.system  # the service's own, not its children's

    def _mark(self, name: str, now: float) -> None:
        self.seen.setdefault(name, now)

    def _run(self) -> None:
        workdir: Path | None = None
        while not self._stop.is_set():
            now = time.time()
            if workdir is None:
                # Not a folder an earlier build is still removing (after its `ready`).
                found = sorted(set(self.spool.glob(f"{WORKDIR_PREFIX}*")) - self.earlier)
                if found:
                    workdir = found[0]
                    self._mark("workdir", now)
            if workdir is not None and "gone" not in self.seen:
                if not workdir.exists():
                    self._mark("gone", now)
                else:
                    for name in ("history.jsonl", "allurerc.json", "pgid", "report"):
                        if name not in self.seen and (workdir / name).exists():
                            self._mark(name, now)
            self._sample_cli(now)
            self._stop.wait(WATCH_S)

    def _sample_cli(self, now: float) -> None:
        try:
            children = self.service.children(recursive=True)
        except psutil.Error:
            return
        rss = 0
        for child in children:
            with contextlib.suppress(psutil.Error):
                if self.cli_start is None:
                    self.cli_start = child.create_time()
                cpu = child.cpu_times()
                self._cli_cpu[child.pid] = cpu.user + cpu.system
                rss += child.memory_info().rss
        if children:
            self.cli_peak_rss = max(self.cli_peak_rss, rss)
            self.cli_cpu = sum(self._cli_cpu.values())
        elif self.cli_start is not None and self.cli_end is None:
            self.cli_end = now

    def __enter__(self) -> BuildWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.service_cpu = self._own_cpu() - self.service_cpu_before


# --- one round ----------------------------------------------------------------------------------


@dataclass
class ApiBuild:
    run_id: int
    seconds: float
    status: str
    polls: int
    phases: dict[str, float]  # seconds of each phase
    cli_cpu_s: float
    cli_peak_mb: float
    service_cpu_s: float
    error: str | None = None


@dataclass
class BareBuild:
    seconds: float
    cpu_s: float
    peak_mb: float
    files: int  # data/test-results
    out: Path
    error: str | None = None


@dataclass
class Round:
    n: int
    order: str
    run_id: int
    history_runs: int
    api: ApiBuild | None = None
    bare: BareBuild | None = None
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def upload_run(client: httpx.Client, data: Data, name: str) -> dict[str, Any]:
    with data.archive.open("rb") as fh:
        response = client.post(
            RUNS,
            data={"run_name": name, "branch": "main"},
            files={"files": (data.archive.name, fh, "application/gzip")},
        )
    if response.status_code != 201:
        raise SystemExit(f"upload: {response.status_code} {response.text[:2000]}")
    run: dict[str, Any] = response.json()
    problems = check_run(run, data.gen)
    if problems:
        raise SystemExit(f"upload: the run's stats are wrong: {'; '.join(problems)}")
    return run


def api_build(client: httpx.Client, run_id: int, spool: Path, service_pid: int) -> ApiBuild:
    path = f"{RUNS}/{run_id}/report"
    polls = 0
    with BuildWatch(spool, service_pid) as watch:
        started = time.time()
        began = time.perf_counter()
        response = client.post(path)
        if response.status_code != 202:
            raise SystemExit(f"POST {path}: {response.status_code} {response.text[:2000]}")
        body = response.json()
        while body["status"] not in ("ready", "failed"):
            time.sleep(POLL_S)
            response = client.get(path)
            polls += 1
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code} {response.text[:2000]}")
            body = response.json()
        seconds = time.perf_counter() - began
        ended = time.time()
    seen = watch.seen
    phases: dict[str, float] = {}

    def span(name: str, start: float | None, stop: float | None) -> None:
        if start is not None and stop is not None:
            phases[name] = max(0.0, stop - start)

    span("queue (request → work folder)", started, seen.get("workdir"))
    span("materialise (→ history file)", seen.get("workdir"), seen.get("history.jsonl"))
    span("history (→ config file)", seen.get("history.jsonl"), seen.get("allurerc.json"))
    span("CLI start (→ CLI process)", seen.get("allurerc.json"), watch.cli_start)
    span("allure generate (CLI process)", watch.cli_start, watch.cli_end)
    # The work folder is removed after the build is recorded `ready`: not part of the wait.
    span("store + record (→ ready seen by the poll)", watch.cli_end, ended)
    return ApiBuild(
        run_id=run_id,
        seconds=seconds,
        status=body["status"],
        polls=polls,
        phases=phases,
        cli_cpu_s=watch.cli_cpu,
        cli_peak_mb=watch.cli_peak_rss / MB,
        service_cpu_s=watch.service_cpu,
        error=body.get("error"),
    )


def bare_build(cli: str, data: Data, work: Path, name: str) -> BareBuild:
    """``allure generate`` on the same folder, with the config the service writes (its own
    ``name``, an empty ``historyPath`` file, ``appendHistory`` false), as the builder runs it."""
    folder = Path(tempfile.mkdtemp(prefix="bare-", dir=work))
    history = folder / "history.jsonl"
    history.write_bytes(b"")
    config = folder / "allurerc.json"
    config.write_text(
        json.dumps({"name": name, "historyPath": str(history), "appendHistory": False})
    )
    out = folder / "report"
    # As the builder runs it: only what Node needs from the environment, HOME = its folder,
    # no colours, no analytics (testops_results.reports.builder._generate).
    env = {name: os.environ[name] for name in CLI_ENV if name in os.environ}
    env.update(
        {"HOME": str(folder), "NO_COLOR": "1", "FORCE_COLOR": "0", "ALLURE_NO_ANALYTICS": "true"}
    )
    log = folder / "allure.log"
    cpu_before = children_cpu()
    with log.open("wb") as fh:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [cli, "generate", str(data.folder), "--output", str(out), "--config", str(config)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
        peak = 0
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(True)]))
            time.sleep(WATCH_S)
        seconds = time.perf_counter() - began
    cpu = children_cpu() - cpu_before
    code = proc.returncode
    error = None if code == 0 else f"exit {code}: {log.read_text(errors='replace')[-2000:]}"
    if error is None and not (out / "index.html").is_file():
        error = "no index.html in the output"
    files = len(list((out / "data" / "test-results").glob("*"))) if out.is_dir() else 0
    return BareBuild(seconds, cpu, peak / MB, files, out, error)


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def check_outputs(
    client: httpx.Client, rnd: Round, data: Data, blobs: Path, bare_out: Path | None
) -> None:
    """The report through the API: index.html, a known test result, summary.json; the stored
    report's data/test-results count against the bare output's."""
    base = f"{RUNS}/{rnd.run_id}/report"
    index = client.get(f"{base}/index.html")
    if index.status_code != 200 or "text/html" not in index.headers.get("content-type", ""):
        rnd.problems.append(f"GET index.html: {index.status_code}")
    else:
        rnd.checks.append(f"index.html {len(index.content):,} bytes")
    builds = sorted((blobs / "reports" / str(rnd.run_id)).glob("*"))
    stored = builds[-1] / "data" / "test-results" if builds else None
    stored_files = sorted(p.name for p in stored.glob("*")) if stored and stored.is_dir() else []
    if builds:
        files = [p for p in builds[-1].rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files) / MB
        rnd.checks.append(f"stored report: {len(files):,} files, {size:,.1f} MB")
    rnd.checks.append(f"stored data/test-results: {len(stored_files):,} files")
    if bare_out is not None:
        bare_files = sorted(p.name for p in (bare_out / "data" / "test-results").glob("*"))
        if bare_files != stored_files:
            rnd.problems.append(
                f"data/test-results differ: stored {len(stored_files):,}, bare {len(bare_files):,}"
            )
    # A result's file is named by md5 of its uuid (the CLI's test result id).
    first = sorted(data.folder.glob("*-result.json"))[0]
    result_uuid = json.loads(first.read_bytes())["uuid"]
    name = hashlib.md5(result_uuid.encode()).hexdigest() + ".json"
    got = client.get(f"{base}/data/test-results/{name}")
    if got.status_code != 200 or got.json().get("name") is None:
        rnd.problems.append(f"GET data/test-results/{name}: {got.status_code}")
    else:
        rnd.checks.append(
            f"GET data/test-results/<md5 of a result's uuid>.json 200 ({got.json()['name']})"
        )
    summary = client.get(f"{base}/summary.json")
    if summary.status_code == 200:
        stats = summary.json().get("stats", {})
        expected = {"total": data.gen.tests, "retries": data.gen.retried_tests}
        expected.update({s: data.gen.statuses.get(s, 0) for s in STATUS_WEIGHTS})
        wrong = [
            f"{k} {stats.get(k, 0)} ≠ {v}" for k, v in expected.items() if stats.get(k, 0) != v
        ]
        if wrong:
            rnd.problems.append("summary.json: " + ", ".join(wrong))
        else:
            rnd.checks.append(f"summary.json stats ok (total {stats.get('total')})")


# --- main ---------------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench(
    args: argparse.Namespace, service: ServiceProcess, data: Data, work: Path, cli: str
) -> int:
    assert service.process is not None
    pid = service.process.pid
    spool, blobs = work / "service" / "spool", work / "service" / "blobs"
    rounds: list[Round] = []
    load_before = loadavg()
    print(f"load average {load_before} before the rounds", flush=True)
    timeout = httpx.Timeout(900.0, connect=10.0)
    # service_process makes the service trust the test key; the bench signs as the gateway would.
    with httpx.Client(
        base_url=service.url, timeout=timeout, trust_env=False, auth=PrincipalAuth("results")
    ) as client:
        for n in range(1, args.rounds + 1):
            name = "bench report" if args.same_name else f"bench report #{n}"
            run = upload_run(client, data, name)
            order = "api, bare" if n % 2 else "bare, api"
            rnd = Round(n, order, run["id"], history_runs=n - 1 if args.same_name else 0)
            for way in order.split(", "):
                if way == "api":
                    rnd.api = api_build(client, rnd.run_id, spool, pid)
                    if rnd.api.status != "ready":
                        rnd.problems.append(f"build {rnd.api.status}: {rnd.api.error}")
                else:
                    rnd.bare = bare_build(cli, data, work, name)
                    if rnd.bare.error:
                        rnd.problems.append(f"bare allure generate: {rnd.bare.error}")
            assert rnd.api is not None
            assert rnd.bare is not None
            if not rnd.problems:
                check_outputs(client, rnd, data, blobs, rnd.bare.out)
            shutil.rmtree(rnd.bare.out.parent, ignore_errors=True)
            rounds.append(rnd)
            a, b = rnd.api, rnd.bare
            print(
                f"round {n} ({order}; run {rnd.run_id} '{name}', {rnd.history_runs} earlier runs "
                f"in its history): API request→ready {a.seconds:.2f} s ({a.polls} polls; CLI "
                f"CPU {a.cli_cpu_s:.1f} s, peak {a.cli_peak_mb:.0f} MB; service CPU "
                f"{a.service_cpu_s:.2f} s), bare allure generate {b.seconds:.2f} s (CPU "
                f"{b.cpu_s:.1f} s, peak {b.peak_mb:.0f} MB, {b.files:,} data/test-results); "
                f"ratio {a.seconds / b.seconds:.2f}; load {loadavg()}",
                flush=True,
            )
            print(
                "  phases s: "
                + ", ".join(f"{k.split(' (')[0]} {v:.2f}" for k, v in a.phases.items()),
                flush=True,
            )
            for check in rnd.checks:
                print(f"  check: {check}")
            for problem in rnd.problems:
                print(f"  PROBLEM: {problem}")
    load_after = loadavg()

    api_s = med([r.api.seconds for r in rounds if r.api])
    bare_s = med([r.bare.seconds for r in rounds if r.bare])
    ratio = api_s / bare_s
    print("\n| round | order | API request → ready s | bare `allure generate` s | ratio |")
    print("|---:|---|---:|---:|---:|")
    for r in rounds:
        assert r.api
        assert r.bare
        print(
            f"| {r.n} | {r.order} | {r.api.seconds:.2f} | {r.bare.seconds:.2f} "
            f"| {r.api.seconds / r.bare.seconds:.2f} |"
        )
    print(f"| median | | {api_s:.2f} | {bare_s:.2f} | {ratio:.2f} |")

    names = [name for r in rounds if r.api for name in r.api.phases]
    phase_names = list(dict.fromkeys(names))
    print("\nWhere the API's time goes (medians over the rounds; from the build's work folder and")
    print("the CLI's process, sampled every 10 ms):\n")
    print("| phase | s | share of request → ready |")
    print("|---|---:|---:|")
    for name in phase_names:
        value = med([r.api.phases[name] for r in rounds if r.api and name in r.api.phases])
        print(f"| {name} | {value:.2f} | {value / api_s:.0%} |")
    print(f"| (bare `allure generate`, for comparison) | {bare_s:.2f} | {bare_s / api_s:.0%} |")
    cli_cpu = med([r.api.cli_cpu_s for r in rounds if r.api])
    bare_cpu = med([r.bare.cpu_s for r in rounds if r.bare])
    service_cpu = med([r.api.service_cpu_s for r in rounds if r.api])
    print(
        f"\nCPU s (medians): the CLI under the service {cli_cpu:.1f} (last 10-ms sample), the bare "
        f"CLI {bare_cpu:.1f}; the service's own process during the build {service_cpu:.2f}"
    )
    met = ratio <= GOAL_RATIO
    print("\n| goal | measured | met |")
    print("|---|---:|:---:|")
    print(
        f"| API request → ready ≤ {GOAL_RATIO:g} × bare `allure generate` (medians) "
        f"| {ratio:.2f}× ({api_s:.2f} s / {bare_s:.2f} s) | {'yes' if met else '**no**'} |"
    )
    print(f"\nload average {load_before} before the rounds, {load_after} after")
    if any(r.problems for r in rounds):
        print("some builds failed or their reports differ: the figures above are not valid")
        print(service.log_tail(20))
        return 1
    if not met and args.strict:
        return 1
    return 0


async def run_service(
    args: argparse.Namespace, work: Path, database_url: str | None, data: Data, cli: str
) -> int:
    folder = work / "service"
    (folder / "blobs").mkdir(parents=True)
    (folder / "spool").mkdir()
    settings = {
        "log_level": "warning",
        "log_format": "json",
        "storage_url": f"file://{folder / 'blobs'}",
        "spool_dir": str(folder / "spool"),
        "allure_cli": cli,
    }
    if database_url:
        settings["database_url"] = database_url
    began = time.perf_counter()
    async with service_process(
        "testops_results", prefix="TESTOPS_RESULTS_", folder=folder, settings=settings
    ) as service:
        print(
            f"results service {service.url} ready in {time.perf_counter() - began:.1f} s "
            f"(local-folder storage, log level warning)",
            flush=True,
        )
        return await asyncio.to_thread(bench, args, service, data, work, cli)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--allure", help=f"the Allure 3 CLI (default: {DEFAULT_CLI})")
    parser.add_argument(
        "--same-name",
        action="store_true",
        help="every round's run has the same name: the service's history grows by one per round",
    )
    parser.add_argument("--results", type=int, default=10_000, help="result files (10,000)")
    parser.add_argument("--containers", type=int, default=30_000, help="container files (30,000)")
    parser.add_argument("--attachments", type=int, default=2_000, help="small attachments (2,000)")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp folder")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when the goal is missed")
    parser.add_argument("--seed", type=int, default=20261121, help="randomness of the data")
    args = parser.parse_args()

    cli = args.allure or os.environ.get("TESTOPS_RESULTS_ALLURE_CLI") or str(DEFAULT_CLI)
    if not (Path(cli).is_file() and os.access(cli, os.X_OK)):
        raise SystemExit(f"the Allure 3 CLI {cli} is missing: `make allure`, or --allure PATH")
    version = subprocess.run(
        [cli, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    node = shutil.which("node")
    node_version = (
        subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
        if node
        else "?"
    ).strip()
    server_url = os.environ.get(SERVER_ENV, DEFAULT_SERVER)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()}, {os.cpu_count()} "
        f"CPUs, {psutil.virtual_memory().total / 1024**3:.0f} GB, Python "
        f"{platform.python_version()}, Allure {version}, Node.js {node_version}; "
        f"load average {loadavg()}",
        flush=True,
    )
    data = cached_data(args.results, args.containers, args.attachments, args.seed)
    gen = data.gen
    how = (
        "from the cache"
        if data.built_s is None
        else f"built in {data.built_s:.0f} s (kept for the next runs)"
    )
    print(
        f"allure-results {data.folder}: {gen.results:,} results ({gen.tests:,} tests, "
        f"{gen.retry_attempts} retry attempts of {gen.retried_tests} tests), "
        f"{gen.containers:,} containers, {gen.attachments:,} attachments, "
        f"{gen.bytes / MB:,.1f} MB; archive {data.archive.stat().st_size / MB:,.1f} MB; {how}",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="testops-bench-report-"))
    database: str | None = None
    database_url: str | None = None
    code = 1
    try:
        if not args.sqlite:
            database = f"testops_bench_report_{uuid.uuid4().hex[:10]}"
            admin(server_url, f'CREATE DATABASE "{database}"')
            database_url = (
                make_url(server_url)
                .set(drivername="postgresql", database=database)
                .render_as_string(hide_password=False)
            )
            pg_version = admin(server_url, "SELECT current_setting('server_version')")
            print(f"PostgreSQL {pg_version}: database {database}")
        else:
            print("SQLite database in the service's folder")
        code = asyncio.run(run_service(args, work, database_url, data, cli))
    finally:
        if args.keep:
            print(f"kept: database {database or '(SQLite)'}, folder {work}")
        else:
            if database:
                admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
