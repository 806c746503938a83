"""Benchmark of the gateway: what going through it costs against calling a service direct.

Starts catalog and results (fresh PostgreSQL databases, or SQLite with ``--sqlite``; local-folder
storage), an idle executor, and the gateway in front of them with a real bearer token, each a
child process on a free port. Then, in one run: a small GET, direct to the catalog and through
the gateway, at concurrency 1 and 32 with ``wrk`` (requests/s, p50, p99 and each process's CPU per
request; medians over alternating rounds); and a ~1 GB allure-results archive streamed from disk
to ``POST /api/v1/runs`` direct and through the gateway, with the gateway's RSS sampled every
10 ms. Prints the tables and whether the goals are met. See bench/README.md.

    uv run python bench/gateway.py
    uv run python bench/gateway.py --rounds 5 --duration 10 --strict
    uv run python bench/gateway.py --skip-upload --sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from ingest import (
    MB,
    Generated,
    admin,
    check_run,
    generate,
    loadavg,
    machine_idle,
    pack,
)
from testops_gateway.auth import new_token, token_line
from testops_kit.principal import GATEWAY_ISSUER, LIFETIME_S, PrincipalSigner, load_private_key
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.testing import (
    TEST_PRINCIPAL,
    PrincipalAuth,
    ServiceProcess,
    service_process,
    test_signing_key,
)

SERVER_ENV = "TESTOPS_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CACHE = Path(tempfile.gettempdir()) / "testops-bench-gateway-cache"
ARCHIVE_VERSION = 1  # bump when the archive's recipe changes: the cache is keyed by it
RUNS = "/api/v1/runs"
SAMPLE_S = 0.01
PIECE_MB = 128  # the archive's large attachments are at most this big

GOAL_RATIO = 0.85  # gateway / direct requests/s at concurrency 32, identity on
GOAL_ADDED_P50_MS = 1.0  # gateway p50 - direct p50 at concurrency 1, identity on
GOAL_GROWTH_MB = 50.0  # gateway RSS growth during a 1 GB upload

# The archive's small part: allure-pytest-like results around the big attachments.
UPLOAD_RESULTS = 1_000
UPLOAD_CONTAINERS = 3_000
UPLOAD_ATTACHMENTS = 200

# The seeded catalog: 50 cases with 3 steps, 2 of 10 tags and a suite each.
CASES = 50
TAGS = ["smoke", "regression", "critical", "slow", "flaky", "nightly", "p1", "p2", "api", "ui"]
SUITES = ["Checkout", "Login", "Payment", "Search", "Profile"]
VERBS = ["creates", "updates", "deletes", "validates", "rejects", "shows", "filters", "exports"]
OBJECTS = ["user", "order", "invoice", "product", "coupon", "address", "session", "token"]

# wrk's own report, as one JSON line at the end (microseconds), next to its `--latency` text.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %.0f, "bytes": %.0f, '
    .. '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

CLK_TCK = os.sysconf("SC_CLK_TCK")

# A request straight to a service carries a principal, as one from the gateway does: signed with
# the key service_process makes the services trust. One wrk run sends one, so it must outlive the
# run; a verifier takes none that lives longer than this.
DIRECT_PRINCIPAL_S = 2 * LIFETIME_S
MAX_DURATION_S = DIRECT_PRINCIPAL_S - 10


def direct_principal(audience: str) -> str:
    """A principal for ``audience`` (``catalog``), signed now and valid DIRECT_PRINCIPAL_S."""
    signer = PrincipalSigner(
        load_private_key(test_signing_key()),
        issuer=GATEWAY_ISSUER,
        lifetime_s=DIRECT_PRINCIPAL_S,
    )
    return signer.sign(TEST_PRINCIPAL, audience=audience)


# --- processes ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (``/proc/<pid>/stat``), 0 once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), 0 once gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pid_of(service: ServiceProcess) -> int:
    assert service.process is not None
    return service.process.pid


class RssWatch:
    """Samples VmRSS of some processes every 10 ms in a thread; resets and reads their VmHWM."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before = {name: status_kb(pid, "VmRSS") for name, pid in pids.items()}
        self.peak = dict(self.before)
        self.hwm_reset: dict[str, bool] = {}
        for name, pid in pids.items():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
                self.hwm_reset[name] = True
            except OSError:
                self.hwm_reset[name] = False
        self.hwm: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], status_kb(pid, "VmRSS"))
            self.samples += 1
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], status_kb(pid, "VmRSS"))
            self.hwm[name] = status_kb(pid, "VmHWM")

    def growth_mb(self, name: str) -> float:
        """Peak (sampled, or VmHWM when it was reset) minus the RSS before, in MB."""
        peak = self.peak[name]
        if self.hwm_reset[name]:
            peak = max(peak, self.hwm[name])
        return (peak - self.before[name]) / 1024


async def backend_pids(database_url: str | None) -> list[int]:
    """PostgreSQL backends serving a database (client backends; none for SQLite)."""
    if database_url is None:
        return []
    url = make_url(database_url)
    connection = await asyncpg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def pg_cpu(database_url: str | None) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in asyncio.run(backend_pids(database_url))}


# --- small GETs -----------------------------------------------------------------------------------


@dataclass
class Load:
    target: str  # "direct" or "gateway"
    connections: int
    round: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    cpu_s: dict[str, float]  # process -> CPU seconds during the run
    busy: float  # share of the machine's CPUs busy during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def cpu_ms(self, name: str) -> float:
        return 1000 * self.cpu_s.get(name, 0.0) / max(self.requests, 1)


def run_wrk(
    url: str, connections: int, duration: int, header: str, script: Path, log: Path
) -> tuple[dict[str, Any], float, str]:
    """One wrk run (each request with ``header``): its JSON summary, its own CPU seconds, and
    its text output."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, duration)}s",  # whole seconds: wrk takes no fraction
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        "-H",
        header,
        url,
    ]
    with log.open("w+") as fh:
        proc = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU time, when it ends
        proc.returncode = os.waitstatus_to_exitcode(status)
        fh.seek(0)
        text = fh.read()
    lines = [line for line in text.splitlines() if line.startswith("WRK_JSON ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed (exit {proc.returncode}):\n{text}")
    return json.loads(lines[-1].split(" ", 1)[1]), usage.ru_utime + usage.ru_stime, text


def measure(
    target: str,
    url: str,
    connections: int,
    duration: int,
    round_no: int,
    *,
    token: str,
    script: Path,
    work: Path,
    pids: dict[str, int],
    catalog_db: str | None,
) -> Load:
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    pg_before = pg_cpu(catalog_db)
    idle_before, total_before = machine_idle()
    # The gateway takes the token; the catalog, straight, a principal as the gateway signs it.
    if target == "direct":
        header = f"{PRINCIPAL_HEADER}: {direct_principal('catalog')}"
    else:
        header = f"Authorization: Bearer {token}"
    summary, wrk_cpu, _ = run_wrk(
        url,
        connections,
        duration,
        header,
        script,
        work / f"wrk-{target}-c{connections}-r{round_no}.txt",
    )
    idle_after, total_after = machine_idle()
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    pg_after = pg_cpu(catalog_db)
    cpu["postgresql"] = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    cpu["wrk"] = wrk_cpu
    elapsed = total_after - total_before
    return Load(
        target=target,
        connections=connections,
        round=round_no,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        errors={
            k: summary[k] for k in ("connect", "read", "write", "status", "timeout") if summary[k]
        },
        cpu_s=cpu,
        busy=1 - (idle_after - idle_before) / elapsed if elapsed > 0 else 0.0,
    )


def seed_catalog(catalog_url: str, seed: int) -> list[int]:
    """50 test cases with steps, tags and a suite, made through the catalog's API; their ids."""
    rng = random.Random(seed)
    ids = []
    with httpx.Client(
        base_url=catalog_url, timeout=30, trust_env=False, auth=PrincipalAuth("catalog")
    ) as client:
        for n in range(1, CASES + 1):
            area, verb, obj = rng.choice(SUITES), rng.choice(VERBS), rng.choice(OBJECTS)
            body = {
                "name": f"{area}: {verb} {obj} #{n}",
                "description": f"Checks that the {area.lower()} page {verb} a {obj}. "
                f"Runs on every supported browser.",
                "preconditions": f"A signed-in user with one {obj}.",
                "expected_result": f"The {obj} is saved and shown in the list.",
                "steps": [
                    {
                        "action": f"Open the {area.lower()} page",
                        "expected": "The page loads in under two seconds",
                    },
                    {"action": f"{verb.title()} the {obj}", "expected": "A toast says Saved"},
                    {"action": "Reload the page", "expected": f"The {obj} is still there"},
                ],
                "tags": rng.sample(TAGS, 2),
                "suite_links": [{"suite_name": area}],
            }
            response = client.post("/api/v1/test-cases", json=body)
            if response.status_code != 201:
                raise SystemExit(f"seeding the catalog: {response.status_code} {response.text}")
            ids.append(response.json()["id"])
    return ids


def small_gets(
    args: argparse.Namespace,
    *,
    path: str,
    catalog: ServiceProcess,
    gateway: ServiceProcess,
    token: str,
    work: Path,
    catalog_db: str | None,
) -> list[Load]:
    script = work / "report.lua"
    script.write_text(WRK_SCRIPT)
    pids = {"gateway": pid_of(gateway), "catalog": pid_of(catalog)}
    targets = {"direct": catalog.url + path, "gateway": gateway.url + path}
    common: dict[str, Any] = {
        "token": token,
        "script": script,
        "work": work,
        "pids": pids,
        "catalog_db": catalog_db,
    }
    # Warm-up: the catalog's pool and caches, the gateway's upstream connections.
    for target, url in targets.items():
        for connections in (32, 1):
            measure(target, url, connections, args.warmup, 0, **common)
    loads: list[Load] = []
    for round_no in range(1, args.rounds + 1):
        order = ["direct", "gateway"] if round_no % 2 else ["gateway", "direct"]
        for connections in (1, 32):
            for target in order:
                load = measure(
                    target, targets[target], connections, args.duration, round_no, **common
                )
                loads.append(load)
                print(
                    f"round {round_no} c={connections:<2} {target:<7}: {load.rps:8,.0f} req/s, "
                    f"p50 {load.p50_ms:6.2f} ms, p99 {load.p99_ms:6.2f} ms; CPU ms/request: "
                    f"gateway {load.cpu_ms('gateway'):.3f}, catalog {load.cpu_ms('catalog'):.3f}"
                    f", PostgreSQL {load.cpu_ms('postgresql'):.3f}, wrk {load.cpu_ms('wrk'):.3f}"
                    f"; machine {load.busy:.0%} busy; load {loadavg()}"
                    + (f"; ERRORS {load.errors}" if load.errors else ""),
                    flush=True,
                )
    return loads


def median_of(
    loads: list[Load], target: str, connections: int, key: Callable[[Load], float]
) -> float:
    return statistics.median(
        key(x) for x in loads if x.target == target and x.connections == connections
    )


# --- the upload -----------------------------------------------------------------------------------


@dataclass
class Archive:
    path: Path
    gen: Generated
    built_s: float | None  # None when it came from the cache
    pieces: int
    piece_mb: int


def build_archive(upload_mb: int, seed: int) -> Archive:
    """A .tar.gz of allure-results of about ``upload_mb`` MB, built once and kept in CACHE."""
    pieces = max(1, math.ceil(upload_mb / PIECE_MB))
    piece_mb = max(1, upload_mb // pieces)
    stem = f"allure-results-{pieces}x{piece_mb}mb-{UPLOAD_RESULTS}r-s{seed}-v{ARCHIVE_VERSION}"
    archive, meta = CACHE / f"{stem}.tar.gz", CACHE / f"{stem}.json"
    if archive.exists() and meta.exists():
        data = json.loads(meta.read_text())
        gen = Generated(folder=Path(), **{**data, "statuses": Counter(data["statuses"])})
        return Archive(archive, gen, None, pieces, piece_mb)
    CACHE.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        gen = generate(
            folder,
            results=UPLOAD_RESULTS,
            containers=UPLOAD_CONTAINERS,
            attachments=UPLOAD_ATTACHMENTS,
            big_attachments=pieces,
            big_mb=piece_mb,
            seed=seed,
        )
        partial = CACHE / f"{stem}.{uuid.uuid4().hex[:8]}.partial"
        pack(folder, partial, "tar.gz")
        partial.rename(archive)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
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
    meta.write_text(json.dumps(counts))  # written last: the pair is complete
    return Archive(archive, gen, time.perf_counter() - began, pieces, piece_mb)


@dataclass
class Upload:
    label: str  # "warm-up (direct)", "direct", "gateway"
    wall_s: float
    mb: float
    gateway_before_mb: float
    gateway_peak_mb: float  # sampled every 10 ms
    gateway_hwm_mb: float  # VmHWM after the upload (reset before it when possible)
    gateway_growth_mb: float
    results_growth_mb: float
    gateway_cpu_s: float
    results_cpu_s: float
    samples: int
    run_id: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def mb_per_s(self) -> float:
        return self.mb / self.wall_s


def upload(
    label: str,
    base_url: str,
    archive: Archive,
    token: str,
    *,
    gateway: ServiceProcess,
    results: ServiceProcess,
    n: int,
) -> Upload:
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": f"bench-gateway-upload-{n}"}
    pids = {"gateway": pid_of(gateway), "results": pid_of(results)}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    timeout = httpx.Timeout(900.0, connect=10.0)
    # Straight to results, the upload carries a principal as the gateway's does.
    auth = PrincipalAuth("results") if base_url == results.url else None
    with (
        httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, auth=auth) as client,
        archive.path.open("rb") as fh,
    ):
        with RssWatch(pids) as watch:
            began = time.perf_counter()
            # httpx reads the file object 64 KiB at a time as it sends: never whole in memory.
            response = client.post(
                RUNS,
                data={"run_name": f"bench gateway {label}", "branch": "main"},
                files={"files": (archive.path.name, fh, "application/gzip")},
                headers=headers,
            )
            wall = time.perf_counter() - began
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        problems: list[str] = []
        run_id = None
        if response.status_code != 201:
            problems.append(f"{response.status_code} {response.text[:1000]}")
        else:
            run = response.json()
            run_id = run.get("id")
            problems += [f"201: {p}" for p in check_run(run, archive.gen)]
            # Read back (through the gateway, whichever way it was sent): what a client sees.
            again = httpx.get(
                f"{gateway.url}{RUNS}/{run_id}", headers=headers, timeout=30, trust_env=False
            )
            if again.status_code != 200:
                problems.append(f"GET run: {again.status_code} {again.text[:500]}")
            else:
                problems += [f"GET: {p}" for p in check_run(again.json(), archive.gen)]
    return Upload(
        label=label,
        wall_s=wall,
        mb=archive.path.stat().st_size / MB,
        gateway_before_mb=watch.before["gateway"] / 1024,
        gateway_peak_mb=watch.peak["gateway"] / 1024,
        gateway_hwm_mb=watch.hwm["gateway"] / 1024,
        gateway_growth_mb=watch.growth_mb("gateway"),
        results_growth_mb=watch.growth_mb("results"),
        gateway_cpu_s=cpu["gateway"],
        results_cpu_s=cpu["results"],
        samples=watch.samples,
        run_id=run_id,
        problems=problems,
    )


# --- report ---------------------------------------------------------------------------------------


def _goal(met: bool) -> str:
    return "yes" if met else "**no**"


def report_gets(loads: list[Load], path: str, body_bytes: int) -> tuple[float, float]:
    """Prints the medians' table; returns (ratio at c=32, added p50 ms at c=1)."""
    rounds = len({x.round for x in loads})
    print(f"\nSmall GET `{path}` ({body_bytes:,} bytes of JSON), medians of {rounds} rounds:\n")
    print(
        "| concurrency | way | requests/s | p50 ms | p99 ms | gateway CPU ms/req "
        "| catalog CPU ms/req | PostgreSQL CPU ms/req | wrk CPU ms/req | machine busy |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for connections in (1, 32):
        for target in ("direct", "gateway"):

            def med(key: Callable[[Load], float], t: str = target, c: int = connections) -> float:
                return median_of(loads, t, c, key)

            print(
                f"| {connections} | {target} | {med(lambda x: x.rps):,.0f} "
                f"| {med(lambda x: x.p50_ms):.2f} | {med(lambda x: x.p99_ms):.2f} "
                f"| {med(lambda x: x.cpu_ms('gateway')):.3f} "
                f"| {med(lambda x: x.cpu_ms('catalog')):.3f} "
                f"| {med(lambda x: x.cpu_ms('postgresql')):.3f} "
                f"| {med(lambda x: x.cpu_ms('wrk')):.3f} | {med(lambda x: x.busy):.0%} |"
            )
    ratio = median_of(loads, "gateway", 32, lambda x: x.rps) / median_of(
        loads, "direct", 32, lambda x: x.rps
    )
    added = median_of(loads, "gateway", 1, lambda x: x.p50_ms) - median_of(
        loads, "direct", 1, lambda x: x.p50_ms
    )
    # The same figures paired within each round (the two ways ran one after the other), which
    # a drift of the machine's load between rounds moves less than the medians above.
    per_round, ratios, added_ms = [], [], []
    for round_no in sorted({x.round for x in loads}):
        by = {(x.target, x.connections): x for x in loads if x.round == round_no}
        ratios.append(by["gateway", 32].rps / by["direct", 32].rps)
        added_ms.append(by["gateway", 1].p50_ms - by["direct", 1].p50_ms)
        per_round.append(
            f"round {round_no}: ratio {ratios[-1]:.2f}, added p50 {added_ms[-1]:+.2f} ms"
        )
    print(
        "\n" + "; ".join(per_round) + f" (medians of the rounds: ratio "
        f"{statistics.median(ratios):.2f}, added p50 {statistics.median(added_ms):+.2f} ms)"
    )
    return ratio, added


def report_uploads(uploads: list[Upload], archive: Archive) -> None:
    print(
        f"\nUpload of {uploads[0].mb:,.1f} MB (`.tar.gz`: {archive.gen.results:,} results, "
        f"{archive.gen.containers:,} containers, {archive.gen.attachments} small attachments "
        f"+ {archive.pieces} × {archive.piece_mb} MB of random bytes):\n"
    )
    print(
        "| upload | wall s | MB/s | gateway RSS before MB | gateway peak MB (10 ms samples) "
        "| gateway VmHWM MB | gateway growth MB | gateway CPU s | results CPU s "
        "| results growth MB | run stats |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for u in uploads:
        verdict = "ok" if not u.problems else "**" + "; ".join(u.problems) + "**"
        print(
            f"| {u.label} | {u.wall_s:.2f} | {u.mb_per_s:,.0f} | {u.gateway_before_mb:.1f} "
            f"| {u.gateway_peak_mb:.1f} | {u.gateway_hwm_mb:.1f} | {u.gateway_growth_mb:+.1f} "
            f"| {u.gateway_cpu_s:.2f} | {u.results_cpu_s:.2f} | {u.results_growth_mb:+.0f} "
            f"| {verdict} |"
        )


# --- main -----------------------------------------------------------------------------------------


def bench(
    args: argparse.Namespace,
    *,
    catalog: ServiceProcess,
    results: ServiceProcess,
    gateway: ServiceProcess,
    token: str,
    work: Path,
    catalog_db: str | None,
    archive: Archive | None,
) -> int:
    ids = seed_catalog(catalog.url, args.seed)
    path = args.path or f"/api/v1/test-cases/{ids[len(ids) // 2]}"
    auth = {"Authorization": f"Bearer {token}"}
    direct = httpx.get(catalog.url + path, auth=PrincipalAuth("catalog"), trust_env=False)
    through = httpx.get(gateway.url + path, headers=auth, trust_env=False)
    denied = httpx.get(gateway.url + path, trust_env=False)
    if direct.status_code != 200 or through.status_code != 200 or direct.json() != through.json():
        raise SystemExit(
            f"GET {path}: direct {direct.status_code}, gateway {through.status_code}; the bodies "
            f"differ or failed:\n{direct.text[:500]}\n{through.text[:500]}"
        )
    if denied.status_code != 401:
        raise SystemExit(f"the gateway answered {denied.status_code} without a token: auth is off?")
    print(
        f"seeded {len(ids)} test cases; GET {path}: {len(direct.content):,} bytes, the same "
        f"direct and through the gateway (401 without the token)"
    )

    load_before = loadavg()
    print(f"load average {load_before} before the small GETs", flush=True)
    loads = small_gets(
        args,
        path=path,
        catalog=catalog,
        gateway=gateway,
        token=token,
        work=work,
        catalog_db=catalog_db,
    )
    load_mid = loadavg()

    uploads: list[Upload] = []
    if archive is not None:
        print(f"load average {load_mid} before the uploads", flush=True)
        common: dict[str, Any] = {"gateway": gateway, "results": results}
        plan = [
            ("warm-up (direct)", results.url),  # stores the attachments: the next two reuse them
            ("direct", results.url),
            ("gateway", gateway.url),
        ]
        for n, (label, base_url) in enumerate(plan, 1):
            u = upload(label, base_url, archive, token, n=n, **common)
            uploads.append(u)
            print(
                f"upload {label}: {u.wall_s:.2f} s ({u.mb_per_s:,.0f} MB/s); gateway RSS "
                f"{u.gateway_before_mb:.1f} MB before, peak {u.gateway_peak_mb:.1f} MB "
                f"({u.samples} samples), VmHWM {u.gateway_hwm_mb:.1f} MB, growth "
                f"{u.gateway_growth_mb:+.1f} MB; CPU s: gateway {u.gateway_cpu_s:.2f}, results "
                f"{u.results_cpu_s:.2f}; run {u.run_id}: "
                + ("stats ok" if not u.problems else "; ".join(u.problems)),
                flush=True,
            )
    load_after = loadavg()

    ratio, added = report_gets(loads, path, len(direct.content))
    growth: float | None = None
    if uploads:
        assert archive is not None
        report_uploads(uploads, archive)
        growth = next(u.gateway_growth_mb for u in uploads if u.label == "gateway")
        own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nthe bench's own peak RSS: {own_mb:.0f} MB (the archive is streamed from disk)")
    errors = [x for x in loads if x.errors]
    problems = [u for u in uploads if u.problems]

    print("\n| goal | measured | met |")
    print("|---|---:|:---:|")
    print(
        f"| throughput through the gateway ≥ {GOAL_RATIO:.0%} of direct at concurrency 32 "
        f"| {ratio:.0%} | {_goal(ratio >= GOAL_RATIO)} |"
    )
    print(
        f"| added p50 latency ≤ {GOAL_ADDED_P50_MS:g} ms at concurrency 1 | {added:+.2f} ms "
        f"| {_goal(added <= GOAL_ADDED_P50_MS)} |"
    )
    if growth is None:
        print(f"| gateway RSS growth ≤ {GOAL_GROWTH_MB:g} MB during a 1 GB upload | — | skipped |")
    else:
        size = f"a {uploads[0].mb:,.0f} MB upload"
        print(
            f"| gateway RSS growth ≤ {GOAL_GROWTH_MB:g} MB during {size} | {growth:+.1f} MB "
            f"| {_goal(growth <= GOAL_GROWTH_MB)} |"
        )
    print(
        f"\nload average {load_before} before the small GETs, {load_mid} after them, "
        f"{load_after} at the end"
    )
    missed = ratio < GOAL_RATIO or added > GOAL_ADDED_P50_MS
    missed = missed or (growth is not None and growth > GOAL_GROWTH_MB)
    if errors or problems:
        for x in errors:
            print(f"wrk errors: round {x.round}, {x.target}, c={x.connections}: {x.errors}")
        print("some requests failed or a run's stats are wrong: the figures above are not valid")
        return 1
    if missed and args.strict:
        return 1
    return 0


def user_token(gateway_url: str, admin_token: str) -> str:
    """A service account, editor of DEFAULT, and a token of its own: the caller to measure."""
    with httpx.Client(
        base_url=gateway_url,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
        trust_env=False,
    ) as client:
        user = client.post(
            "/api/v1/users", json={"username": f"bench-{uuid.uuid4().hex[:8]}", "kind": "service"}
        )
        user.raise_for_status()
        user_id = user.json()["id"]
        client.put(
            f"/api/v1/projects/DEFAULT/members/{user_id}", json={"role": "editor"}
        ).raise_for_status()
        made = client.post(
            f"/api/v1/users/{user_id}/tokens", json={"name": "bench", "scopes": ["read", "write"]}
        )
        made.raise_for_status()
        secret: str = made.json()["token"]
        return secret


async def run_services(
    args: argparse.Namespace,
    work: Path,
    databases: dict[str, str | None],
    archive: Archive | None,
) -> int:
    token = new_token()
    common = {"log_level": "warning", "log_format": "json"}
    async with contextlib.AsyncExitStack() as stack:
        started = time.perf_counter()
        services: dict[str, ServiceProcess] = {}
        for name in ("catalog", "results"):
            folder = work / name
            (folder / "blobs").mkdir(parents=True)
            settings = {**common, "storage_url": f"file://{folder / 'blobs'}"}
            if databases[name]:
                settings["database_url"] = str(databases[name])
            services[name] = await stack.enter_async_context(
                service_process(
                    f"testops_{name}",
                    prefix=f"TESTOPS_{name.upper()}_",
                    folder=folder,
                    settings=settings,
                )
            )
        # An idle executor (SQLite), so that the gateway is whole: its /readyz is 200 and its
        # route templates (metrics) are those of every service.
        (work / "executor").mkdir()
        executor = await stack.enter_async_context(
            service_process(
                "testops_executor",
                prefix="TESTOPS_EXECUTOR_",
                folder=work / "executor",
                settings={**common, "results_url": services["results"].url},
            )
        )
        (work / "gateway").mkdir()
        gateway = await stack.enter_async_context(
            service_process(
                "testops_gateway",
                prefix="TESTOPS_GATEWAY_",
                folder=work / "gateway",
                settings={
                    **common,
                    "catalog_url": services["catalog"].url,
                    "results_url": services["results"].url,
                    "executor_url": executor.url,
                    "tokens": token_line("bench", ["read", "write"], token),
                    "rate_limit_per_s": "0",
                    **({"database_url": str(databases["gateway"])} if databases["gateway"] else {}),
                },
            )
        )
        # Identity on: the measured calls come with a user's token, found in the gateway's
        # database with its user and role on every request, as a CI pipeline's would be; the
        # token line of the settings only makes that user.
        token = await asyncio.to_thread(user_token, gateway.url, token)
        print(
            f"catalog {services['catalog'].url}, results {services['results'].url}, executor "
            f"{executor.url}, gateway {gateway.url} (a user's token, no rate limit): ready in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return await asyncio.to_thread(
            bench,
            args,
            catalog=services["catalog"],
            results=services["results"],
            gateway=gateway,
            token=token,
            work=work,
            catalog_db=databases["catalog"],
            archive=archive,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the small GETs (3)")
    parser.add_argument(
        "--duration",
        type=int,
        default=8,
        help=f"seconds per wrk run (8; at most {MAX_DURATION_S})",
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of each warm-up run (2)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--skip-upload", action="store_true", help="no 1 GB upload")
    parser.add_argument("--upload-mb", type=int, default=1024, help="archive size in MB (1024)")
    parser.add_argument("--path", help="the small GET (default: a seeded test case)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and temp folder")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a goal is missed")
    parser.add_argument("--seed", type=int, default=20261121, help="randomness of the data")
    args = parser.parse_args()
    if max(args.duration, args.warmup) > MAX_DURATION_S:
        parser.error(
            f"--duration and --warmup: at most {MAX_DURATION_S} s (a run straight to the catalog "
            f"sends one principal, valid {DIRECT_PRINCIPAL_S} s)"
        )

    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk not found: this bench uses it as the load generator. Install it with "
            "`apt-get install wrk` (Debian/Ubuntu), `brew install wrk` (macOS), or build it "
            "from https://github.com/wg/wrk."
        )
    wrk_version = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    server_url = os.environ.get(SERVER_ENV, DEFAULT_SERVER)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()}, {os.cpu_count()} "
        f"CPUs, Python {platform.python_version()}, {wrk_version[0] if wrk_version else 'wrk'}; "
        f"load average {loadavg()}",
        flush=True,
    )

    archive: Archive | None = None
    if not args.skip_upload:
        archive = build_archive(args.upload_mb, args.seed)
        size = archive.path.stat().st_size / MB
        how = (
            "from the cache"
            if archive.built_s is None
            else f"built in {archive.built_s:.0f} s (kept for the next runs)"
        )
        print(f"archive {archive.path} ({size:,.1f} MB): {how}; load average {loadavg()}")

    work = Path(tempfile.mkdtemp(prefix="testops-bench-gateway-"))
    databases: dict[str, str | None] = {"catalog": None, "results": None, "gateway": None}
    created: list[str] = []
    code = 1
    try:
        if not args.sqlite:
            suffix = uuid.uuid4().hex[:10]
            for name in databases:
                database = f"testops_bench_gateway_{name}_{suffix}"
                admin(server_url, f'CREATE DATABASE "{database}"')
                created.append(database)
                databases[name] = (
                    make_url(server_url)
                    .set(drivername="postgresql", database=database)
                    .render_as_string(hide_password=False)
                )
            version = admin(server_url, "SELECT current_setting('server_version')")
            print(f"PostgreSQL {version}: databases {', '.join(created)}")
        else:
            print("SQLite databases in the services' folders")
        code = asyncio.run(run_services(args, work, databases, archive))
    finally:
        if not args.keep:
            for database in created:
                admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: databases {', '.join(created) or '(SQLite)'}, folder {work}")
    sys.exit(code)


if __name__ == "__main__":
    main()
