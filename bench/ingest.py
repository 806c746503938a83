"""Benchmark of the results service's ingest: one archive of allure-results, uploaded over HTTP.

Generates allure-results shaped like allure-pytest's output (10,000 results, 30,000 containers,
2,000 attachments by default; optionally a few very large attachments), packs them into one
.tar.gz (or .zip), starts the results service as a real child process on PostgreSQL and a
local folder (or moto's S3 server with ``--s3``), and times ``POST /api/v1/runs`` with the
archive streamed from disk, from the request's start to the 201, while sampling the service's
RSS every 50 ms. As the peer figure, times the Allure 3 CLI's ``allure generate`` on the same
folder. See bench/README.md.

    uv run python bench/ingest.py --repeat 3
    uv run python bench/ingest.py --big-attachments 10 --big-size 100
    uv run python bench/ingest.py --s3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
import psutil
from sqlalchemy.engine import make_url

from testops_kit.testing import PrincipalAuth, test_public_key

SERVER_ENV = "TESTOPS_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ALLURE_ENV = "TESTOPS_RESULTS_ALLURE_CLI"
REPO = Path(__file__).resolve().parent.parent
RUNS = "/api/v1/runs"
SAMPLE_S = 0.05
MB = 1024 * 1024
CHUNK = MB

GOAL_WALL_S = 3.0  # for 10,000 results
GOAL_RATE = 3000.0  # results per second
GOAL_GROWTH_MB = 150.0  # RSS growth during a 1 GB upload

RETRY_SHARE = 0.03  # results that are an earlier attempt of a test run again
STATUS_WEIGHTS = {"passed": 85, "failed": 7, "broken": 3, "skipped": 5}
BASE_MS = int(datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp() * 1000)
WORKERS = 4  # pytest-xdist workers: gw0..gw3

# --- the data set -------------------------------------------------------------------------------

AREAS = [
    "checkout", "login", "payment", "search", "profile", "cart", "inventory", "shipping",
    "billing", "reports", "admin", "notifications", "export", "import", "onboarding",
]  # fmt: skip
LAYERS = ["api", "ui", "integration", "unit", "e2e"]
VERBS = ["creates", "updates", "deletes", "validates", "rejects", "shows", "filters", "exports"]
OBJECTS = ["user", "order", "invoice", "product", "coupon", "address", "session", "token"]
TAGS = ["smoke", "regression", "critical", "slow", "flaky", "nightly", "p1", "p2", "security"]
FIXTURES = [
    "db_session", "api_client", "browser", "page", "logged_in_user", "tmp_path", "seed_data",
    "feature_flags", "mail_outbox", "clock", "s3_bucket", "cache",
]  # fmt: skip
STEP_NAMES = [
    "Open the {area} page", "Create a {obj}", "Fill the form", "Submit", "Check the response",
    "Check the audit log", "Reload the page", "Call the API", "Wait for the job", "Log out",
]  # fmt: skip
FAILURES = {
    "failed": [
        ("AssertionError: assert 404 == 200", "assert response.status_code == 200"),
        ("AssertionError: assert 'Saved' in ''", "assert 'Saved' in page.text"),
        ("AssertionError: assert 3 == 2", "assert len(items) == 2"),
    ],
    "broken": [
        ("TimeoutError: Timeout 30000ms exceeded.", "page.click('#submit')"),
        ("ConnectionError: [Errno 111] Connection refused", "client.post('/orders', json=body)"),
        ("KeyError: 'id'", "order_id = body['id']"),
    ],
}
LOG_LINES = [
    "INFO  request started method=POST path=/api/orders",
    "DEBUG sql=SELECT * FROM orders WHERE id = $1 params=(4711,)",
    "INFO  request finished status=200 duration_ms=12.4",
    "WARN  retrying after 503 from upstream attempt=2",
    "DEBUG cache miss key=user:42:profile",
    "INFO  job queued name=send_invoice id=8c1f",
]


@dataclass
class Generated:
    folder: Path
    results: int = 0
    containers: int = 0
    attachments: int = 0
    big_attachments: int = 0
    tests: int = 0
    retried_tests: int = 0
    retry_attempts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    seconds: float = 0.0


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _write(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return len(data)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _status_details(rng: random.Random, status: str, where: str) -> dict[str, Any]:
    if status == "skipped":
        reason = rng.choice(["not supported on this platform", "needs a license", "flaky: #812"])
        return {
            "message": f"Skipped: {reason}",
            "trace": f"('{where}', 12, 'Skipped: {reason}')",
        }
    message, line = rng.choice(FAILURES[status])
    frames = "\n".join(
        f"{where}:{rng.randint(10, 400)}: in {name}\n    {code}"
        for name, code in [("helper", "return call(*args)"), ("request", "raise_for_status()")]
    )
    trace = f"    def test(...):\n        ...\n>       {line}\nE       {message}\n\n{frames}"
    return {"message": message, "trace": trace}


def _steps(
    rng: random.Random, start: int, stop: int, status: str, where: str, depth: int = 0
) -> list[dict[str, Any]]:
    count = rng.randint(1, 3) if depth == 0 else rng.randint(1, 2)
    span = max(stop - start, count)
    steps = []
    for i in range(count):
        s_start = start + span * i // count
        s_stop = start + span * (i + 1) // count
        last = i == count - 1
        s_status = status if last and status in ("failed", "broken") else "passed"
        step: dict[str, Any] = {
            "name": rng.choice(STEP_NAMES).format(area=rng.choice(AREAS), obj=rng.choice(OBJECTS)),
            "status": s_status,
            "start": s_start,
            "stop": s_stop,
        }
        if s_status != "passed":
            step["statusDetails"] = _status_details(rng, s_status, where)
        if depth < 2 and rng.random() < 0.3:
            step["steps"] = _steps(rng, s_start, s_stop, s_status, where, depth + 1)
        if rng.random() < 0.2:
            step["parameters"] = [{"name": "value", "value": repr(rng.randint(1, 999))}]
        steps.append(step)
    return steps


def _text_attachment(rng: random.Random) -> bytes:
    size = rng.randint(1024, 8 * 1024)
    lines: list[str] = []
    total = 0
    while total < size:
        line = f"2026-11-20T08:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} " + rng.choice(
            LOG_LINES
        )
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines).encode()


def _png_attachment(rng: random.Random) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(2 * 1024, 12 * 1024))


def generate(
    folder: Path,
    *,
    results: int,
    containers: int,
    attachments: int,
    big_attachments: int,
    big_mb: int,
    seed: int,
) -> Generated:
    """Write allure-results into ``folder`` as allure-pytest (with pytest-xdist, reruns) would."""
    began = time.perf_counter()
    rng = random.Random(seed)
    out = Generated(folder=folder)
    attempts = round(results * RETRY_SHARE) if results >= 10 else 0
    n_tests = results - attempts

    # Tests: modules of classes of functions, 20% parametrized (2-5 parameter sets).
    tests: list[dict[str, Any]] = []
    modules: list[list[int]] = []  # test indexes per module
    module_no = 0
    while len(tests) < n_tests:
        module_no += 1
        area, layer = rng.choice(AREAS), rng.choice(LAYERS)
        package = f"tests.{layer}.test_{area}_{module_no}"
        members: list[int] = []
        for class_no in range(rng.randint(1, 3)):
            cls = f"Test{rng.choice(OBJECTS).title()}{rng.choice(VERBS).title()}{class_no}"
            for fn in range(rng.randint(2, 8)):
                func = f"test_{rng.choice(VERBS)}_{rng.choice(OBJECTS)}_{fn}"
                full_name = f"{package}.{cls}#{func}"
                param_sets: list[list[dict[str, str]]] = [[]]
                if rng.random() < 0.2:
                    param_sets = [
                        [
                            {"name": "browser", "value": repr(b)},
                            {"name": "size", "value": str(k)},
                        ]
                        for k, b in enumerate(rng.sample(["chrome", "firefox", "webkit"], 3)[:2])
                    ]
                    param_sets += [
                        [{"name": "browser", "value": "'edge'"}, {"name": "size", "value": str(k)}]
                        for k in range(rng.randint(0, 3))
                    ]
                for params in param_sets:
                    if len(tests) >= n_tests:
                        break
                    suffix = "-".join(p["value"].strip("'") for p in params)
                    tests.append(
                        {
                            "package": package,
                            "layer": layer,
                            "area": area,
                            "module": package.rsplit(".", 1)[1],
                            "cls": cls,
                            "name": f"{func}[{suffix}]" if params else func,
                            "full_name": full_name,
                            "params": params,
                            "tags": rng.sample(TAGS, rng.choice([0, 1, 1, 2, 3])),
                        }
                    )
                    members.append(len(tests) - 1)
        if members:
            modules.append(members)

    # Reruns: a few tests run 2-3 times; every earlier attempt starts before the last one.
    reruns = [0] * len(tests)
    if attempts:
        retried = rng.sample(range(len(tests)), min(len(tests), max(1, attempts * 4 // 5)))
        for i in retried:
            reruns[i] = 1
        for _ in range(attempts - len(retried)):
            reruns[rng.choice(retried)] += 1
    out.tests = len(tests)
    out.retried_tests = sum(1 for r in reruns if r)
    out.retry_attempts = sum(reruns)

    # Every result (attempts first, each on the timeline of its xdist worker).
    records: list[dict[str, Any]] = []
    clocks = [BASE_MS] * WORKERS
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for index, test in enumerate(tests):
        worker = index % WORKERS
        for attempt in range(reruns[index] + 1):
            final = attempt == reruns[index]
            status = (
                rng.choices(statuses, weights)[0]
                if final
                else rng.choice(["failed", "failed", "broken"])
            )
            if final:
                out.statuses[status] += 1
            duration = 0 if status == "skipped" else int(rng.lognormvariate(5.5, 1.2)) + 1
            start = clocks[worker] + rng.randint(1, 30)
            stop = start + duration
            clocks[worker] = stop
            where = f"{test['package'].replace('.', '/')}.py"
            labels = [
                {"name": "parentSuite", "value": f"tests.{test['layer']}"},
                {"name": "suite", "value": test["module"]},
                {"name": "subSuite", "value": test["cls"]},
                {"name": "host", "value": "ci-runner-07"},
                {"name": "thread", "value": f"{4100 + worker}-gw{worker}"},
                {"name": "framework", "value": "pytest"},
                {"name": "language", "value": "cpython3"},
                {"name": "package", "value": test["package"]},
            ] + [{"name": "tag", "value": tag} for tag in test["tags"]]
            if rng.random() < 0.3:
                labels.append({"name": "severity", "value": rng.choice(["critical", "normal"])})
            record: dict[str, Any] = {
                "name": test["name"],
                "status": status,
                "start": start,
                "stop": stop,
                "uuid": _uuid(rng),
                "historyId": _md5(test["full_name"] + repr(test["params"])),
                "testCaseId": _md5(test["full_name"]),
                "fullName": test["full_name"],
                "labels": labels,
                "titlePath": [where.rsplit("/", 1)[1], test["cls"]],
            }
            if status != "passed":
                record["statusDetails"] = _status_details(rng, status, where)
            if status != "skipped":
                record["steps"] = _steps(rng, start, stop, status, where)
            if test["params"]:
                record["parameters"] = test["params"]
            if rng.random() < 0.1:
                record["links"] = [
                    {
                        "type": "issue",
                        "name": f"BUG-{rng.randint(100, 999)}",
                        "url": "https://example.org/b",
                    }
                ]
            if rng.random() < 0.2:
                record["description"] = f"Checks that a {rng.choice(OBJECTS)} {test['name']}."
            records.append(record)
    out.results = len(records)

    # Attachments, referenced from a result or one of its steps.
    def attach(entry: dict[str, Any], name: str, source: str, content_type: str) -> None:
        target = entry
        if entry.get("steps") and rng.random() < 0.6:
            target = rng.choice(entry["steps"])
        target.setdefault("attachments", []).append(
            {"name": name, "source": source, "type": content_type}
        )

    for i in range(attachments):
        source_uuid = _uuid(rng)
        if i % 4 == 3:
            source = f"{source_uuid}-attachment.png"
            out.bytes += _write(folder / source, _png_attachment(rng))
            attach(rng.choice(records), "screenshot", source, "image/png")
        else:
            source = f"{source_uuid}-attachment.txt"
            out.bytes += _write(folder / source, _text_attachment(rng))
            attach(rng.choice(records), "log", source, "text/plain")
        out.attachments += 1
    for _ in range(big_attachments):
        source = f"{_uuid(rng)}-attachment.webm"
        with (folder / source).open("wb") as fh:
            for _ in range(big_mb):
                fh.write(os.urandom(CHUNK))
        out.bytes += big_mb * MB
        attach(rng.choice(records), "video", source, "video/webm")
        out.big_attachments += 1

    for record in records:
        out.bytes += _write(folder / f"{record['uuid']}-result.json", _dump(record))
    # The results of each test (attempts included), for module-scoped fixtures.
    test_results: list[list[str]] = [[] for _ in tests]
    position = 0
    for index in range(len(tests)):
        for _ in range(reruns[index] + 1):
            test_results[index].append(records[position]["uuid"])
            position += 1
    all_uuids = [record["uuid"] for record in records]

    # Containers: two session-scoped fixtures over every result, one module-scoped fixture per
    # module, the rest function-scoped (one child) or parametrization containers (no child).
    def fixture(name: str, start: int, stop: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "status": "passed", "start": start, "stop": stop}
        if rng.random() < 0.002:
            entry["status"] = "broken"
            entry["statusDetails"] = _status_details(rng, "broken", "conftest.py")
        if rng.random() < 0.05:
            entry["steps"] = [{"name": "Prepare", "status": "passed", "start": start, "stop": stop}]
        return entry

    def container(children: list[str], name: str, start: int, stop: int) -> None:
        body: dict[str, Any] = {"uuid": _uuid(rng)}
        if children:
            body["children"] = children
        body["befores"] = [fixture(name, start, start + 1)]
        body["afters"] = [fixture(f"{name}::teardown", stop - 1, stop)]
        body["start"] = start
        body["stop"] = stop
        out.bytes += _write(folder / f"{body['uuid']}-container.json", _dump(body))
        out.containers += 1

    end = max(clocks)
    for name in ("event_loop_policy", "base_url")[: min(2, containers)]:
        container(all_uuids, name, BASE_MS, end)
    for members in modules:
        if out.containers >= containers:
            break
        children = [u for index in members for u in test_results[index]]
        container(children, rng.choice(FIXTURES), BASE_MS, end)
    while out.containers < containers:
        if rng.random() < 0.75:
            record = rng.choice(records)
            container([record["uuid"]], rng.choice(FIXTURES), record["start"], record["stop"])
        else:
            container([], rng.choice(["browser", "size", "payload"]), BASE_MS, BASE_MS + 1)

    environment = (
        "python=3.11.7\nos=Linux\nbrowser=chromium 131\nbase_url=https://staging.example.org\n"
        "branch=main\n"
    )
    out.bytes += _write(folder / "environment.properties", environment.encode())
    executor = {
        "name": "GitHub Actions",
        "type": "github",
        "url": "https://github.com/example/shop",
        "buildOrder": 4711,
        "buildName": "CI #4711",
        "buildUrl": "https://github.com/example/shop/actions/runs/4711",
        "reportName": "Shop tests",
    }
    out.bytes += _write(folder / "executor.json", _dump(executor))
    out.seconds = time.perf_counter() - began
    return out


# --- packing ------------------------------------------------------------------------------------


def pack(folder: Path, archive: Path, fmt: str) -> float:
    """Pack the folder's files (at the archive's top level) into ``archive``; seconds taken."""
    began = time.perf_counter()
    names = sorted(os.listdir(folder))
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name in names:
                zf.write(folder / name, arcname=name)
    else:
        with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
            for name in names:
                tf.add(folder / name, arcname=name, recursive=False)
    return time.perf_counter() - began


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tree_rss(root: psutil.Process) -> int:
    """The largest RSS of a process in the tree under ``root`` (the server, not `uv run`)."""
    largest = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            largest = max(largest, proc.memory_info().rss)
    return largest


def tree_cpu(root: psutil.Process) -> float:
    """User + system CPU seconds of the processes in the tree (children reaped excluded)."""
    total = 0.0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


class RssSampler:
    """Samples the tree's RSS every 50 ms in a thread, from ``start()`` to ``stop()``."""

    def __init__(self, root: psutil.Process) -> None:
        self.root = root
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.root))
            self.samples += 1
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.root))


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child we started and whatever it started (SIGTERM, then SIGKILL after 15 s)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in [*children]:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    _, alive = psutil.wait_procs(children, timeout=15)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def service_command() -> list[str]:
    """How to start the service: the venv's script, ``python -m``, else ``uv run``."""
    script = Path(sys.executable).parent / "testops-results"
    if script.exists():
        return [str(script)]
    if importlib.util.find_spec("testops_results") is not None:
        return [sys.executable, "-m", "testops_results"]
    return ["uv", "run", "testops-results"]


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def moto_server(bucket: str) -> Iterator[tuple[str, psutil.Process]]:
    """moto's S3 server in a child process, with ``bucket`` created: its endpoint and process."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(endpoint, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.1)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
        ).create_bucket(Bucket=bucket)
        yield endpoint, psutil.Process(server.pid)
    finally:
        stop_tree(server)


# --- database -----------------------------------------------------------------------------------


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> str:
    connection = await asyncpg.connect(_dsn(server_url))
    try:
        if statement.upper().startswith("SELECT"):
            return str(await connection.fetchval(statement))
        await connection.execute(statement)
        return ""
    finally:
        await connection.close()


def admin(server_url: str, statement: str) -> str:
    return asyncio.run(_admin(server_url, statement))


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Upload:
    wall_s: float
    baseline_mb: float
    peak_mb: float
    cpu_s: float
    pg_cpu_s: float
    s3_cpu_s: float | None  # moto's S3 server, with --s3
    busy: float  # share of the machine's CPUs busy during the upload (every process)
    run: dict[str, Any]
    problems: list[str]
    started: float = 0.0  # time.time() at the request's start, to place the service's log events

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.baseline_mb


def check_run(run: dict[str, Any], gen: Generated) -> list[str]:
    """What the 201's Run says that does not match what was generated."""
    stats = run.get("stats") or {}
    expected = {
        "total": gen.tests,
        "retries": gen.retried_tests,
        "retry_attempts": gen.retry_attempts,
        **{status: gen.statuses.get(status, 0) for status in STATUS_WEIGHTS},
        "unknown": 0,
    }
    problems = [
        f"stats.{key} = {stats.get(key)!r}, expected {value}"
        for key, value in expected.items()
        if stats.get(key) != value
    ]
    worst = next((s for s in ("failed", "broken", "passed", "skipped") if gen.statuses[s]), None)
    if worst and run.get("status") != worst:
        problems.append(f"status = {run.get('status')!r}, expected {worst!r}")
    if run.get("warnings"):
        problems.append(f"{len(run['warnings'])} warnings, e.g. {run['warnings'][0]}")
    return problems


def pg_backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the service (autovacuum excluded)."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )

    async def pids() -> list[int]:
        connection = await asyncpg.connect(_dsn(database_url))
        try:
            return [row["pid"] for row in await connection.fetch(query)]
        finally:
            await connection.close()

    times: dict[int, float] = {}
    for pid in asyncio.run(pids()):
        with contextlib.suppress(psutil.Error):
            cpu = psutil.Process(pid).cpu_times()
            times[pid] = cpu.user + cpu.system
    return times


def machine_idle() -> tuple[float, float]:
    """Idle (with I/O wait) and total CPU seconds of the machine so far."""
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), sum(times)


def upload(
    client: httpx.Client,
    archive: Path,
    fmt: str,
    root: psutil.Process,
    gen: Generated,
    n: int,
    database_url: str,
    s3_server: psutil.Process | None,
) -> Upload:
    content_type = "application/zip" if fmt == "zip" else "application/gzip"
    baseline = tree_rss(root)
    cpu_before = tree_cpu(root)
    s3_before = tree_cpu(s3_server) if s3_server else 0.0
    pg_before = pg_backend_cpu(database_url)
    idle_before, total_before = machine_idle()
    with archive.open("rb") as fh, RssSampler(root) as sampler:
        started = time.time()
        began = time.perf_counter()
        response = client.post(
            RUNS,
            data={"run_name": f"bench ingest #{n}", "branch": "main"},
            files={"files": (archive.name, fh, content_type)},
            headers={"X-Request-ID": f"bench-ingest-{n}"},
        )
        wall = time.perf_counter() - began
    idle_after, total_after = machine_idle()
    cpu = tree_cpu(root) - cpu_before
    s3_cpu = tree_cpu(s3_server) - s3_before if s3_server else None
    pg_after = pg_backend_cpu(database_url)
    pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    if response.status_code != 201:
        raise SystemExit(f"upload {n}: {response.status_code} {response.text[:2000]}")
    run = response.json()
    elapsed = total_after - total_before
    return Upload(
        wall_s=wall,
        baseline_mb=baseline / MB,
        peak_mb=max(sampler.peak, baseline) / MB,
        cpu_s=cpu,
        pg_cpu_s=pg_cpu,
        s3_cpu_s=s3_cpu,
        busy=1 - (idle_after - idle_before) / elapsed if elapsed > 0 else 0.0,
        run=run,
        problems=check_run(run, gen),
        started=started,
    )


def phases(log: Path, uploads: list[Upload]) -> None:
    """With ``--phases``: the service's log events of each upload, placed from the request's start.

    The service logs at info level: ``upload_staged`` (with the seconds staging took) and the
    access event ``request`` (with ``duration_ms``); whatever else it logs during an upload is
    listed too.
    """
    events: dict[str, list[tuple[float, str, str]]] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "timestamp" not in event or "request_id" not in event:
            continue
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        skip = {"event", "request_id", "level", "logger", "timestamp"}
        details = ", ".join(f"{k}={v}" for k, v in event.items() if k not in skip)
        events.setdefault(event["request_id"], []).append((at, event["event"], details))
    print("\n| upload | s after the request's start | service log event |")
    print("|---:|---:|---|")
    for n, u in enumerate(uploads, 1):
        for at, name, details in events.get(f"bench-ingest-{n}", []):
            print(f"| {n} | {at - u.started:.2f} | `{name}` {details} |")


def find_allure(option: str | None) -> str | None:
    candidates = [option, os.environ.get(ALLURE_ENV)]
    candidates.append(str(REPO / "tools" / "allure" / "node_modules" / ".bin" / "allure"))
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("allure")


def allure_generate(
    cli: str, results: Path, work: Path, gen: Generated
) -> tuple[float, float, str | None]:
    """Seconds and peak RSS (MB, largest process) of ``allure generate``; error text or None.

    The report's ``summary.json`` is checked against what was generated, so that the service and
    the CLI are known to count the same tests, statuses and retries.
    """
    out = work / "allure-report"
    log = work / "allure.log"
    with log.open("wb") as fh:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [cli, "generate", str(results), "-o", str(out)],
            cwd=work,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        with RssSampler(psutil.Process(proc.pid)) as sampler:
            code = proc.wait()
        seconds = time.perf_counter() - began
    error = None if code == 0 else f"exit {code}: {tail(log, 10)}"
    if error is None and not (out / "index.html").exists():
        error = f"no index.html in the output: {tail(log, 10)}"
    if error is None and (out / "summary.json").exists():
        stats = json.loads((out / "summary.json").read_text()).get("stats", {})
        expected = {"total": gen.tests, "retries": gen.retried_tests}
        expected.update({status: gen.statuses.get(status, 0) for status in STATUS_WEIGHTS})
        wrong = [
            f"{key} {stats.get(key, 0)} (expected {value})"
            for key, value in expected.items()
            if stats.get(key, 0) != value
        ]
        if wrong:
            error = "its summary.json differs: " + ", ".join(wrong)
    shutil.rmtree(out, ignore_errors=True)
    return seconds, sampler.peak / MB, error


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=10_000, help="result files (10,000)")
    parser.add_argument("--containers", type=int, default=30_000, help="container files (30,000)")
    parser.add_argument("--attachments", type=int, default=2_000, help="small attachments (2,000)")
    parser.add_argument("--big-attachments", type=int, default=0, help="large attachments (0)")
    parser.add_argument("--big-size", type=int, default=100, help="MB per large attachment (100)")
    parser.add_argument("--repeat", type=int, default=1, help="uploads of the archive (1)")
    parser.add_argument("--format", choices=["tar.gz", "zip"], default="tar.gz")
    parser.add_argument("--s3", action="store_true", help="store objects in moto's S3 server")
    parser.add_argument("--database-url", help="use this database (not created, not dropped)")
    parser.add_argument("--allure", help="path of the Allure 3 CLI (`allure`)")
    parser.add_argument("--no-allure", action="store_true", help="skip `allure generate`")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp folder")
    parser.add_argument(
        "--phases",
        action="store_true",
        help="log at info level and list the service's log events of each upload",
    )
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="testops-bench-ingest-"))
    server_url = os.environ.get(SERVER_ENV, DEFAULT_SERVER)
    database: str | None = None
    service: subprocess.Popen[bytes] | None = None
    with contextlib.ExitStack() as stack:
        try:
            print(
                f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()}, "
                f"{os.cpu_count()} CPUs, "
                f"{psutil.virtual_memory().total / 1024**3:.0f} GB, Python "
                f"{platform.python_version()}; load average {loadavg()}; work folder {work}"
            )
            folder = work / "allure-results"
            folder.mkdir()
            gen = generate(
                folder,
                results=args.results,
                containers=args.containers,
                attachments=args.attachments,
                big_attachments=args.big_attachments,
                big_mb=args.big_size,
                seed=args.seed,
            )
            print(
                f"generated {gen.results:,} results ({gen.tests:,} tests, {gen.retry_attempts} "
                f"retry attempts of {gen.retried_tests} tests), {gen.containers:,} containers, "
                f"{gen.attachments + gen.big_attachments:,} attachments, "
                f"{gen.bytes / MB:,.1f} MB in {gen.seconds:.1f} s"
            )
            archive = work / f"allure-results.{args.format}"
            pack_s = pack(folder, archive, args.format)
            archive_mb = archive.stat().st_size / MB
            print(f"packed {archive.name}: {archive_mb:,.1f} MB in {pack_s:.1f} s")

            # The service: database, storage, process.
            if args.database_url:
                database_url = args.database_url
            else:
                database = f"testops_bench_ingest_{uuid.uuid4().hex[:10]}"
                admin(server_url, f'CREATE DATABASE "{database}"')
                database_url = (
                    make_url(server_url)
                    .set(drivername="postgresql", database=database)
                    .render_as_string(hide_password=False)
                )
            pg_version = admin(database_url, "SELECT current_setting('server_version')")
            env = dict(os.environ)
            env.update(
                TESTOPS_RESULTS_HOST="127.0.0.1",
                TESTOPS_RESULTS_PORT=str(free_port()),
                TESTOPS_RESULTS_DATABASE_URL=database_url,
                TESTOPS_RESULTS_LOG_LEVEL="info" if args.phases else "warning",
                TESTOPS_RESULTS_LOG_FORMAT="json",
                TESTOPS_RESULTS_DATA_DIR=str(work / "data"),
                # The service answers only what a principal vouches for: the bench signs as
                # the gateway would, with the test key.
                TESTOPS_RESULTS_PRINCIPAL_PUBLIC_KEY=test_public_key(),
            )
            s3_server: psutil.Process | None = None
            if args.s3:
                bucket = "testops-bench"
                endpoint, s3_server = stack.enter_context(moto_server(bucket))
                env.update(
                    TESTOPS_RESULTS_STORAGE_URL=f"s3://{bucket}/ingest",
                    TESTOPS_RESULTS_S3_ENDPOINT_URL=endpoint,
                    TESTOPS_RESULTS_S3_REGION="us-east-1",
                    TESTOPS_RESULTS_S3_ACCESS_KEY_ID="bench",
                    TESTOPS_RESULTS_S3_SECRET_ACCESS_KEY="bench-secret",
                )
                storage = f"moto S3 server ({endpoint})"
            else:
                (work / "blobs").mkdir()
                env["TESTOPS_RESULTS_STORAGE_URL"] = f"file://{work / 'blobs'}"
                storage = "local folder"
            command = service_command()
            service_log = work / "service.log"
            with service_log.open("wb") as log_fh:
                service = subprocess.Popen(
                    command, env=env, stdout=log_fh, stderr=subprocess.STDOUT, cwd=REPO
                )
            base_url = f"http://127.0.0.1:{env['TESTOPS_RESULTS_PORT']}"
            began = time.perf_counter()
            while True:
                try:
                    if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if service.poll() is not None or time.perf_counter() - began > 120:
                    raise SystemExit(f"the service did not get ready:\n{tail(service_log)}")
                time.sleep(0.1)
            print(
                f"service: `{' '.join(Path(c).name for c in command)}` ready in "
                f"{time.perf_counter() - began:.1f} s; PostgreSQL {pg_version}; storage: {storage}"
            )
            root = psutil.Process(service.pid)

            uploads: list[Upload] = []
            load_before = loadavg()
            timeout = httpx.Timeout(900.0, connect=10.0)
            with httpx.Client(
                base_url=base_url, timeout=timeout, auth=PrincipalAuth("results")
            ) as client:
                for n in range(1, args.repeat + 1):
                    try:
                        result = upload(
                            client, archive, args.format, root, gen, n, database_url, s3_server
                        )
                    except httpx.TransportError as exc:
                        code = service.poll()
                        state = "running" if code is None else f"exited with {code}"
                        raise SystemExit(
                            f"upload {n}: {exc!r}; the service is {state}. Its log:\n"
                            f"{tail(service_log)}"
                        ) from None
                    uploads.append(result)
                    verdict = "stats ok" if not result.problems else "; ".join(result.problems)
                    print(
                        f"upload {n}: {result.wall_s:.2f} s, {gen.results / result.wall_s:,.0f} "
                        f"results/s, RSS {result.baseline_mb:.0f} -> {result.peak_mb:.0f} MB "
                        f"(+{result.growth_mb:.0f}), CPU: service {result.cpu_s:.2f} s, PostgreSQL "
                        f"{result.pg_cpu_s:.2f} s, "
                        + (f"S3 server {result.s3_cpu_s:.2f} s, " if s3_server else "")
                        + f"machine {result.busy:.0%} busy; "
                        f"run {result.run.get('id')} {result.run.get('status')}: {verdict}"
                    )
            load_after = loadavg()
            stop_tree(service)
            service = None

            allure_s: float | None = None
            allure_rss: float | None = None
            allure_note = ""
            cli = None if args.no_allure else find_allure(args.allure)
            if args.no_allure:
                allure_note = "skipped (--no-allure)"
            elif cli is None:
                print("allure CLI not found: skipped")
                allure_note = "not found: skipped"
            else:
                version = subprocess.run(
                    [cli, "--version"], capture_output=True, text=True, check=False
                ).stdout.strip()
                allure_s, allure_rss, error = allure_generate(cli, folder, work, gen)
                allure_note = f"Allure {version}" + (f", FAILED {error}" if error else "")
                print(f"allure generate: {allure_s:.2f} s, peak RSS {allure_rss:.0f} MB")

            report(args, gen, archive_mb, uploads, allure_s, allure_rss, allure_note)
            if args.phases:
                phases(service_log, uploads)
            print(f"load average {load_before} before the uploads, {load_after} after")
            if any(u.problems for u in uploads):
                print(f"service log: {tail(service_log, 20)}")
                raise SystemExit(1)
        finally:
            if service is not None:
                stop_tree(service)
            if database and not args.keep:
                admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            if args.keep:
                print(f"kept: database {database or '(given)'}, folder {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)


def report(
    args: argparse.Namespace,
    gen: Generated,
    archive_mb: float,
    uploads: list[Upload],
    allure_s: float | None,
    allure_rss: float | None,
    allure_note: str,
) -> None:
    wall = statistics.median(u.wall_s for u in uploads)
    rate = gen.results / wall
    baseline = statistics.median(u.baseline_mb for u in uploads)
    peak = max(u.peak_mb for u in uploads)
    growth = max(u.growth_mb for u in uploads)
    median = " (median)" if len(uploads) > 1 else ""
    if len(uploads) > 1:
        print(
            "\n| upload | wall s | results/s | baseline RSS MB | peak RSS MB | growth MB "
            "| service CPU s | PostgreSQL CPU s | machine busy |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, u in enumerate(uploads, 1):
            print(
                f"| {n} | {u.wall_s:.2f} | {gen.results / u.wall_s:,.0f} | {u.baseline_mb:.0f} "
                f"| {u.peak_mb:.0f} | {u.growth_mb:.0f} | {u.cpu_s:.2f} | {u.pg_cpu_s:.2f} "
                f"| {u.busy:.0%} |"
            )
    rows = [
        ("results (files)", f"{gen.results:,} ({gen.tests:,} tests)", ""),
        ("containers", f"{gen.containers:,}", ""),
        (
            "attachments",
            f"{gen.attachments:,}"
            + (f" + {gen.big_attachments} × {args.big_size} MB" if gen.big_attachments else ""),
            "",
        ),
        ("archive MB", f"{archive_mb:,.1f} ({args.format})", ""),
        (
            f"upload wall s{median}",
            f"{wall:.2f}",
            (
                _goal(wall <= GOAL_WALL_S, "≤ 3 s")
                if gen.results == 10_000 and not gen.big_attachments
                else ""
            ),
        ),
        (
            f"results/s{median}",
            f"{rate:,.0f}",
            "" if gen.big_attachments else _goal(rate >= GOAL_RATE, "≥ 3,000"),
        ),
        (f"baseline RSS MB{median}", f"{baseline:.0f}", ""),
        ("peak RSS MB (max)", f"{peak:.0f}", ""),
        (
            "growth MB (max)",
            f"{growth:.0f}",
            _goal(growth <= GOAL_GROWTH_MB, "≤ 150 MB") if gen.big_attachments else "",
        ),
        (f"service CPU s{median}", f"{statistics.median(u.cpu_s for u in uploads):.2f}", ""),
        (
            f"PostgreSQL CPU s{median}",
            f"{statistics.median(u.pg_cpu_s for u in uploads):.2f}",
            "",
        ),
        *(
            [(f"S3 server CPU s{median}", f"{statistics.median(s3_cpu):.2f}", "moto")]
            if (s3_cpu := [u.s3_cpu_s for u in uploads if u.s3_cpu_s is not None])
            else []
        ),
        (
            f"machine busy during upload{median}",
            f"{statistics.median(u.busy for u in uploads):.0%}",
            f"{os.cpu_count()} CPUs, every process",
        ),
    ]
    if allure_s is not None:
        rows.append(("allure generate s", f"{allure_s:.2f}", allure_note))
        rows.append(("allure generate peak RSS MB", f"{allure_rss:.0f}", ""))
        rows.append(
            ("ratio (allure / upload)", f"{allure_s / wall:.1f}×", _goal(wall < allure_s, "> 1"))
        )
    else:
        rows.append(("allure generate s", "—", allure_note))
    print("\n| figure | value | goal |")
    print("|---|---:|---|")
    for name, value, goal in rows:
        print(f"| {name} | {value} | {goal} |")


def _goal(met: bool, text: str) -> str:
    return f"{text}: {'yes' if met else '**no**'}"


if __name__ == "__main__":
    main()
