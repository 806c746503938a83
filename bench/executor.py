"""Benchmark of the executor: one repository run through the executor and by hand, in one run.

Generates a small real project (attrs, python-dateutil and pytest, a ``uv.lock``, ≈200 quick
tests), commits it on ``main`` in a bare repository reached by a ``file://`` URL, starts the
results service and the executor as real child processes, and times the same repository through
the executor (``POST /api/v1/executions``, polled every 50 ms until it is completed) and by hand
(``git clone --depth 1``, ``uv sync --frozen``, ``uv run --with allure-pytest pytest
--alluredir``, the results packed and posted to the results service) with the same environment
and the same warm uv cache. One untimed warm-up of each, then ``--rounds`` rounds alternating.
The goal: the executor's overhead is 15 % or less. See bench/README.md.

    uv run python bench/executor.py
    uv run python bench/executor.py --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import psutil
from sqlalchemy.engine import make_url

from testops_executor.pipeline import logs as executor_logs
from testops_executor.pipeline.runner import Runner
from testops_executor.settings import ExecutorSettings
from testops_kit.principal import (
    GATEWAY_ISSUER,
    HEADER,
    Principal,
    PrincipalSigner,
    ensure_key_pair,
    load_private_key,
)
from testops_kit.projects import DEFAULT_PROJECT

SERVER_ENV = "TESTOPS_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parent.parent
EXECUTIONS = "/api/v1/executions"
RUNS = "/api/v1/runs"
POLL_S = 0.05  # the bench's polling of GET /api/v1/executions/{id} (--poll)
BRANCH = "main"
SUITE = "tests/"
PHASES = ["cloning", "syncing", "testing", "uploading", "completed"]
GOAL_OVERHEAD = 0.15  # executor / by hand - 1

# --- the repository -----------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "inventory"
version = "0.1.0"
description = "Items, carts, prices and delivery dates of a small shop."
requires-python = ">=3.11"
dependencies = ["attrs>=23.1", "python-dateutil>=2.8", "pytest>=8"]

[tool.uv]
package = false

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
"""

MODELS = '''\
"""Items and carts."""

from __future__ import annotations

from decimal import Decimal

import attrs


def _not_negative(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


@attrs.frozen
class Item:
    sku: str = attrs.field(validator=attrs.validators.matches_re(r"[A-Z]{3}-\\d{4}"))
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    price: Decimal = attrs.field(converter=Decimal, validator=_not_negative)


@attrs.define
class Line:
    item: Item
    quantity: int = attrs.field(validator=attrs.validators.ge(1))

    @property
    def total(self) -> Decimal:
        return self.item.price * self.quantity


@attrs.define
class Cart:
    lines: list[Line] = attrs.Factory(list)

    def add(self, item: Item, quantity: int = 1) -> None:
        for line in self.lines:
            if line.item.sku == item.sku:
                line.quantity += quantity
                return
        self.lines.append(Line(item, quantity))

    def remove(self, sku: str) -> None:
        before = len(self.lines)
        self.lines = [line for line in self.lines if line.item.sku != sku]
        if len(self.lines) == before:
            raise KeyError(sku)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))

    def __len__(self) -> int:
        return sum(line.quantity for line in self.lines)
'''

PRICING = '''\
"""Discounts, taxes and rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
BULK = [(100, Decimal("15")), (50, Decimal("10")), (10, Decimal("5"))]


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def discount(amount: Decimal, percent: Decimal | int) -> Decimal:
    percent = Decimal(percent)
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round_money(amount * (100 - percent) / 100)


def bulk_percent(quantity: int) -> Decimal:
    for threshold, percent in BULK:
        if quantity >= threshold:
            return percent
    return Decimal("0")


def with_tax(amount: Decimal, rate: Decimal | str) -> Decimal:
    return round_money(amount * (1 + Decimal(rate)))
'''

DATES = '''\
"""Order and delivery dates."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil import parser
from dateutil.relativedelta import relativedelta


def parse_day(text: str) -> date:
    return parser.isoparse(text).date()


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def delivery_date(ordered: date, business_days: int) -> date:
    day = ordered
    while business_days > 0:
        day += timedelta(days=1)
        if not is_weekend(day):
            business_days -= 1
    return day


def renewal(day: date, months: int) -> date:
    return day + relativedelta(months=months)
'''

CONFTEST = """\
from decimal import Decimal

import pytest

from inventory.models import Cart, Item


@pytest.fixture
def pen() -> Item:
    return Item("PEN-0001", "Pen", Decimal("1.50"))


@pytest.fixture
def book() -> Item:
    return Item("BOO-0042", "Book", "12.90")


@pytest.fixture
def cart(pen: Item, book: Item) -> Cart:
    cart = Cart()
    cart.add(pen, 2)
    cart.add(book)
    return cart
"""

TEST_MODELS = """\
from decimal import Decimal

import pytest

from inventory.models import Cart, Item, Line


@pytest.mark.parametrize(
    "sku", [f"{p}-{n:04d}" for p in ("PEN", "BOO", "CUP") for n in (1, 42, 9999)]
)
def test_valid_sku(sku: str) -> None:
    assert Item(sku, "Thing", "1").sku == sku


@pytest.mark.parametrize(
    "sku", ["", "pen-0001", "PEN0001", "PEN-01", "PENS-0001", "PEN-00001", "123-4567"]
)
def test_invalid_sku(sku: str) -> None:
    with pytest.raises(ValueError):
        Item(sku, "Thing", "1")


@pytest.mark.parametrize("price", ["0", "0.01", "1", "19.99", "1000"])
def test_price_is_a_decimal(price: str) -> None:
    assert Item("PEN-0001", "Pen", price).price == Decimal(price)


def test_negative_price() -> None:
    with pytest.raises(ValueError, match="price"):
        Item("PEN-0001", "Pen", "-1")


def test_empty_name() -> None:
    with pytest.raises(ValueError):
        Item("PEN-0001", "", "1")


def test_items_are_frozen(pen: Item) -> None:
    with pytest.raises(AttributeError):
        pen.price = Decimal("2")  # type: ignore[misc]


@pytest.mark.parametrize("quantity", range(1, 21))
def test_line_total(pen: Item, quantity: int) -> None:
    assert Line(pen, quantity).total == Decimal("1.50") * quantity


@pytest.mark.parametrize("quantity", [0, -1, -10])
def test_line_quantity_at_least_one(pen: Item, quantity: int) -> None:
    with pytest.raises(ValueError):
        Line(pen, quantity)


def test_equal_items(pen: Item) -> None:
    assert pen == Item("PEN-0001", "Pen", "1.5")
"""

TEST_CART = """\
from decimal import Decimal

import pytest

from inventory.models import Cart, Item


class TestCart:
    def test_empty(self) -> None:
        assert len(Cart()) == 0
        assert Cart().subtotal == 0

    def test_len_counts_quantities(self, cart: Cart) -> None:
        assert len(cart) == 3

    def test_subtotal(self, cart: Cart) -> None:
        assert cart.subtotal == Decimal("15.90")

    def test_same_item_merges(self, cart: Cart, pen: Item) -> None:
        cart.add(pen, 3)
        assert len(cart.lines) == 2
        assert len(cart) == 6

    def test_remove(self, cart: Cart) -> None:
        cart.remove("PEN-0001")
        assert cart.subtotal == Decimal("12.90")

    def test_remove_missing(self, cart: Cart) -> None:
        with pytest.raises(KeyError):
            cart.remove("CUP-0001")

    def test_remove_all(self, cart: Cart) -> None:
        cart.remove("PEN-0001")
        cart.remove("BOO-0042")
        assert len(cart) == 0

    @pytest.mark.parametrize("count", range(1, 31))
    def test_many_items(self, count: int) -> None:
        cart = Cart()
        for n in range(count):
            cart.add(Item(f"CUP-{n:04d}", f"Cup {n}", "2.25"))
        assert len(cart) == count
        assert cart.subtotal == Decimal("2.25") * count

    @pytest.mark.parametrize("times", range(1, 11))
    def test_adding_again(self, pen: Item, times: int) -> None:
        cart = Cart()
        for _ in range(times):
            cart.add(pen)
        assert cart.lines[0].quantity == times
"""

TEST_PRICING = """\
from decimal import Decimal

import pytest

from inventory.pricing import bulk_percent, discount, round_money, with_tax


@pytest.mark.parametrize("percent", range(0, 101, 5))
def test_discount(percent: int) -> None:
    assert discount(Decimal("200"), percent) == Decimal(200 - 2 * percent).quantize(Decimal("0.01"))


@pytest.mark.parametrize("percent", [-1, 101, 250])
def test_discount_out_of_range(percent: int) -> None:
    with pytest.raises(ValueError):
        discount(Decimal("10"), percent)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(q, "0") for q in (1, 5, 9)] + [(q, "5") for q in (10, 25, 49)]
    + [(q, "10") for q in (50, 75, 99)] + [(q, "15") for q in (100, 500, 10_000)],
)
def test_bulk_percent(quantity: int, expected: str) -> None:
    assert bulk_percent(quantity) == Decimal(expected)


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [("0.125", "0.12"), ("0.135", "0.14"), ("1.005", "1.00"), ("2.675", "2.68"), ("10", "10.00"),
     ("0.001", "0.00"), ("99.999", "100.00"), ("5.555", "5.56")],
)
def test_round_money(amount: str, rounded: str) -> None:
    assert round_money(Decimal(amount)) == Decimal(rounded)


@pytest.mark.parametrize("rate", ["0", "0.055", "0.07", "0.1", "0.19", "0.2", "0.21", "0.25"])
@pytest.mark.parametrize("amount", ["1", "9.99", "100"])
def test_with_tax(amount: str, rate: str) -> None:
    taxed = with_tax(Decimal(amount), rate)
    assert taxed >= Decimal(amount)
    assert taxed == round_money(Decimal(amount) * (1 + Decimal(rate)))
"""

TEST_DATES = """\
from datetime import date

import pytest

from inventory.dates import delivery_date, is_weekend, parse_day, renewal

MONDAY = date(2026, 11, 16)


@pytest.mark.parametrize("offset", range(7))
def test_is_weekend(offset: int) -> None:
    day = date.fromordinal(MONDAY.toordinal() + offset)
    assert is_weekend(day) == (offset >= 5)


@pytest.mark.parametrize(
    ("business_days", "expected"),
    [(1, 17), (2, 18), (3, 19), (4, 20), (5, 23), (6, 24), (7, 25), (8, 26), (9, 27), (10, 30)],
)
def test_delivery_date(business_days: int, expected: int) -> None:
    assert delivery_date(MONDAY, business_days) == date(2026, 11, expected)


@pytest.mark.parametrize("weekday", range(7))
@pytest.mark.parametrize("business_days", [1, 3, 5])
def test_delivery_never_on_a_weekend(weekday: int, business_days: int) -> None:
    ordered = date.fromordinal(MONDAY.toordinal() + weekday)
    assert not is_weekend(delivery_date(ordered, business_days))


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21",
        "2026-11-21T08:30:00",
        "2026-11-21T08:30:00Z",
        "2026-11-21T23:59:59+02:00",
        "20261121",
    ],
)
def test_parse_day(text: str) -> None:
    assert parse_day(text) == date(2026, 11, 21)


@pytest.mark.parametrize("months", range(1, 13))
def test_renewal(months: int) -> None:
    day = renewal(date(2026, 1, 31), months)
    assert day.day <= 31
    assert (day.year - 2026) * 12 + day.month == 1 + months
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": "# inventory\n\nItems, carts, prices and delivery dates of a small shop.\n",
    ".gitignore": ".venv/\n__pycache__/\n",
    "src/inventory/__init__.py": '"""A small shop."""\n',
    "src/inventory/models.py": MODELS,
    "src/inventory/pricing.py": PRICING,
    "src/inventory/dates.py": DATES,
    "tests/conftest.py": CONFTEST,
    "tests/test_models.py": TEST_MODELS,
    "tests/test_cart.py": TEST_CART,
    "tests/test_pricing.py": TEST_PRICING,
    "tests/test_dates.py": TEST_DATES,
}


def make_repository(work: Path, env: dict[str, str]) -> tuple[str, str]:
    """The project committed on ``main`` in a bare repository: its ``file://`` URL, its uv.lock
    packages. ``uv lock`` runs with the commands' environment, so it warms the shared cache."""
    source = work / "project"
    for name, text in FILES.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    run(["uv", "lock"], cwd=source, env=env)
    lock = (source / "uv.lock").read_text()
    packages = re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', lock, flags=re.M)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.org"]
    run(["git", "init", "--quiet", "--initial-branch", BRANCH], cwd=source)
    run(["git", "add", "--all"], cwd=source)
    run([*git, "commit", "--quiet", "-m", "An inventory library with its tests"], cwd=source)
    bare = work / "inventory.git"
    run(["git", "clone", "--quiet", "--bare", str(source), str(bare)], cwd=work)
    shutil.rmtree(source)
    listed = ", ".join(f"{name} {version}" for name, version in packages if name != "inventory")
    return bare.as_uri(), listed


# --- processes ----------------------------------------------------------------------------------


def run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, its output to a pipe (as the executor reads it); fail with that output."""
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if done.returncode != 0:
        output = done.stdout.decode(errors="replace")[-3000:]
        raise SystemExit(f"`{' '.join(args)}` exited with {done.returncode}:\n{output}")
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child we started and whatever it started (SIGTERM, then SIGKILL after 15 s)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
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


def service_command(script: str, module: str) -> list[str]:
    """How to start a service: the venv's script, ``python -m``, else ``uv run``."""
    path = Path(sys.executable).parent / script
    if path.exists():
        return [str(path)]
    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    return ["uv", "run", script]


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def service(
    script: str, module: str, prefix: str, settings: dict[str, str], log: Path
) -> Iterator[tuple[str, psutil.Process]]:
    """A service as a child process, ready (``/readyz`` = 200): yields its base URL and its
    process."""
    port = free_port()
    env = dict(os.environ)
    env.update({f"{prefix}{key}": value for key, value in settings.items()})
    env.update({f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port)})
    command = service_command(script, module)
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(command, env=env, stdout=log_fh, stderr=subprocess.STDOUT, cwd=REPO)
    base_url = f"http://127.0.0.1:{port}"
    try:
        began = time.perf_counter()
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - began > 120:
                raise SystemExit(f"{script} did not get ready:\n{tail(log)}")
            time.sleep(0.1)
        print(f"{script}: `{' '.join(Path(c).name for c in command)}` ready on {base_url}")
        yield base_url, psutil.Process(proc.pid)
    finally:
        stop_tree(proc)


BENCH_PRINCIPAL = Principal(
    subject="local-admin",
    name="local-admin",
    project=DEFAULT_PROJECT,
    role="admin",
    scopes=frozenset({"admin"}),
)


class AsGateway(httpx.Auth):
    """Signs a principal into every request, as the gateway does for the local admin: the
    services answer nothing else."""

    def __init__(self, private_key: Path, audience: str) -> None:
        key = load_private_key(private_key.read_bytes())
        self.signer = PrincipalSigner(key, issuer=GATEWAY_ISSUER)
        self.audience = audience

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[HEADER] = self.signer.sign(BENCH_PRINCIPAL, audience=self.audience)
        yield request


def make_keys(folder: Path) -> Path:
    """The key pairs `make run` makes: the gateway's (principal.pem/.pub) and the executor's
    upload key (executor.pem/.pub)."""
    for pair in ("principal", "executor"):
        ensure_key_pair(folder / f"{pair}.pem", folder / f"{pair}.pub")
    return folder


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


def commands_env(workspace: Path, uv_cache: Path) -> dict[str, str]:
    """The environment the executor gives the commands it runs in ``workspace``: its own code
    (``Runner._child_env``, with the settings it reads from this process's environment), so the
    by-hand run cannot drift from it: HOME and TMPDIR in the workspace, the shared uv cache,
    ``UV_PYTHON_DOWNLOADS=never``, certificates and proxies passed through."""
    settings = ExecutorSettings(uv_cache_dir=uv_cache)
    runner = Runner(settings=settings, results=None, set_phase=None, signer=None)  # type: ignore[arg-type]
    for folder in ("home", "tmp"):
        (workspace / folder).mkdir(parents=True, exist_ok=True)
    return runner._child_env(workspace)


def pack(folder: Path, archive: Path) -> None:
    """As the executor packs: gzip level 1, the files at the archive's top level."""
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=path.name)


# --- the two ways -------------------------------------------------------------------------------


@dataclass
class Round:
    way: str  # "executor" or "by hand"
    wall_s: float
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    tests: int = 0  # stats.total of the uploaded run
    note: str = ""  # the execution's id
    posted_at: float = 0.0  # time.time() at the POST, to place the executor's log events


EXIT_LINE = re.compile(r"^\[testops\] exit (-?\d+) after ([\d.]+) s$")
COMMAND_LINE = re.compile(r"^\[testops\] \$ (.*)$")


def command_name(command: str) -> str:
    words = command.split()
    if words[:2] == ["git", "clone"]:
        return "git clone"
    if words[:2] == ["uv", "sync"]:
        return "uv sync"
    if words[:2] == ["uv", "run"]:
        return "uv run pytest"
    return " ".join(words[:2])


def log_commands(text: str) -> list[tuple[str, int, float]]:
    """The commands of an execution's log: (name, exit code, seconds) from its
    ``[testops] $ …`` and ``[testops] exit N after X s`` lines."""
    found: list[tuple[str, int, float]] = []
    current: str | None = None
    for line in text.splitlines():
        if match := COMMAND_LINE.match(line):
            current = command_name(match.group(1))
        elif (match := EXIT_LINE.match(line)) and current is not None:
            found.append((current, int(match.group(1)), float(match.group(2))))
            current = None
    return found


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def own_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of the process itself (not of the commands it ran)."""
    times = process.cpu_times()
    return times.user + times.system


def through_executor(
    executor: httpx.Client,
    results: httpx.Client,
    repo_url: str,
    n: int,
    process: psutil.Process,
    poll_s: float = POLL_S,
) -> tuple[Round, str]:
    """POST the execution, poll it every 50 ms until it ends: wall from the POST to completed.
    Also the moments each phase was first seen, and the commands' times from its log."""
    body = {
        "repo_url": repo_url,
        "branch": BRANCH,
        "suite": {"name": SUITE},
        "run_name": f"bench executor #{n}",
    }
    cpu_before = own_cpu(process)
    posted_at = time.time()
    began = time.perf_counter()
    answer = executor.post(EXECUTIONS, json=body)
    posted = time.perf_counter() - began
    if answer.status_code != 202:
        raise SystemExit(f"POST {EXECUTIONS}: {answer.status_code} {answer.text[:2000]}")
    execution_id = answer.json()["id"]
    seen: dict[str, float] = {}
    while True:
        time.sleep(poll_s)
        current = executor.get(f"{EXECUTIONS}/{execution_id}").json()
        now = time.perf_counter() - began
        seen.setdefault(current["phase"] or current["status"], now)
        if current["status"] not in ("pending", "running"):
            break
    wall = time.perf_counter() - began
    cpu = own_cpu(process) - cpu_before
    log = executor.get(f"{EXECUTIONS}/{execution_id}/log").text
    if current["status"] != "completed" or current["outcome"] != "passed":
        raise SystemExit(
            f"execution {execution_id}: {current['status']}/{current['outcome']} "
            f"({current['failure_reason']}: {current['error']}). Its log:\n{log[-3000:]}"
        )
    run_answer = results.get(f"{RUNS}/{current['run_id']}").json()
    steps = {"POST": posted, "cpu": cpu}
    created, started = _when(current["created_at"]), _when(current["started_at"])
    finished = _when(current["finished_at"])
    steps["queue"] = (started - created).total_seconds()
    steps["run"] = (finished - started).total_seconds()
    commands = log_commands(log)
    for name, _code, seconds in commands:
        steps[name] = steps.get(name, 0.0) + seconds
    steps["rest"] = steps["run"] - sum(s for _, _, s in commands)
    steps["seen"] = wall - (finished - created).total_seconds() - posted
    steps.update({phase: seen[phase] for phase in PHASES if phase in seen})
    out = Round("executor", wall, steps, int(run_answer["stats"]["total"]), execution_id, posted_at)
    return out, log


def by_hand(results: httpx.Client, repo_url: str, uv_cache: Path, work: Path, n: int) -> Round:
    """The executor's steps, one after the other, in a fresh folder with its environment."""
    workspace = work / f"by-hand-{n}"
    env = commands_env(workspace, uv_cache)
    checkout = workspace / "checkout"
    alluredir = workspace / "allure-results"
    steps: dict[str, float] = {}
    began = time.perf_counter()

    def step(name: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
        start = time.perf_counter()
        done = run(args, cwd=cwd, env=env)
        steps[name] = time.perf_counter() - start
        return done

    step(
        "git clone",
        ["git", "clone", "--depth", "1", "--single-branch", "--no-tags", "--branch", BRANCH]
        + ["--", repo_url, "checkout"],
        workspace,
    )
    step("uv sync", ["uv", "sync", "--frozen"], checkout)
    step(
        "uv run pytest",
        ["uv", "run", "--frozen", "--with", "allure-pytest", "pytest", SUITE]
        + ["--alluredir", str(alluredir)],
        checkout,
    )
    start = time.perf_counter()
    archive = workspace / "allure-results.tar.gz"
    pack(alluredir, archive)
    with archive.open("rb") as fh:
        answer = results.post(
            RUNS,
            data={"run_name": f"bench by hand #{n}", "branch": BRANCH},
            files={"files": ("allure-results.tar.gz", fh, "application/gzip")},
        )
    if answer.status_code != 201:
        raise SystemExit(f"POST {RUNS}: {answer.status_code} {answer.text[:2000]}")
    steps["pack + upload"] = time.perf_counter() - start
    wall = time.perf_counter() - began
    start = time.perf_counter()
    shutil.rmtree(workspace)
    steps["remove"] = time.perf_counter() - start
    return Round("by hand", wall, steps, tests=int(answer.json()["stats"]["total"]))


# --- report -------------------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(executor_rounds: list[Round], hand_rounds: list[Round], tests: int) -> float:
    print()
    print("| round | executor s | … of which queued s | by hand s | executor / by hand |")
    print("|---:|---:|---:|---:|---:|")
    for n, (ex, hand) in enumerate(zip(executor_rounds, hand_rounds, strict=True), start=1):
        print(
            f"| {n} | {ex.wall_s:.2f} | {ex.steps['queue']:.2f} | {hand.wall_s:.2f} | "
            f"{ex.wall_s / hand.wall_s:.3f} |"
        )
    ex_med = median([r.wall_s for r in executor_rounds])
    hand_med = median([r.wall_s for r in hand_rounds])
    queue_med = median([r.steps["queue"] for r in executor_rounds])
    ratio = ex_med / hand_med
    overhead = ratio - 1
    met = "yes" if overhead <= GOAL_OVERHEAD else "**no**"
    print(
        f"| **median** | **{ex_med:.2f}** | {queue_med:.2f} | **{hand_med:.2f}** | "
        f"**{ratio:.3f}** |"
    )
    ex_mean = statistics.fmean(r.wall_s for r in executor_rounds)
    hand_mean = statistics.fmean(r.wall_s for r in hand_rounds)
    queue_mean = statistics.fmean(r.steps["queue"] for r in executor_rounds)
    print(
        f"| mean | {ex_mean:.2f} | {queue_mean:.2f} | {hand_mean:.2f} | {ex_mean / hand_mean:.3f} |"
    )
    pairs = zip(executor_rounds, hand_rounds, strict=True)
    paired = median([ex.wall_s / hand.wall_s for ex, hand in pairs])
    print()
    print(
        f"{tests} tests per run. Overhead of the executor (ratio of the medians − 1): "
        f"**{overhead:+.1%}**; goal ≤ {GOAL_OVERHEAD:.0%}: {met}. Median of the rounds' "
        f"ratios: {paired:.3f}."
    )

    def med(rounds: list[Round], name: str) -> str:
        values = [r.steps[name] for r in rounds if name in r.steps]
        return f"{median(values):.2f}" if values else "—"

    print()
    print("Where the time goes, medians over the rounds (the executor's commands from its log,")
    print("`[testops] exit N after X s`, rounded to 0.1 s there):")
    print()
    print("| step | executor s | by hand s |")
    print("|---|---:|---:|")
    for name in ("git clone", "uv sync", "uv run pytest"):
        print(f"| `{name}` | {med(executor_rounds, name)} | {med(hand_rounds, name)} |")
    print(f"| pack + upload | (not in the log) | {med(hand_rounds, 'pack + upload')} |")
    rows = [
        ("POST → 202", "POST"),
        ("queued: `created_at` → `started_at`", "queue"),
        ("running: `started_at` → `finished_at`", "run"),
        ("… of which outside the commands (rev-parse, phases, pack, upload, clean-up)", "rest"),
        ("`finished_at` → seen by a poll", "seen"),
        ("CPU seconds of its own process (not of its commands)", "cpu"),
    ]
    for label, name in rows:
        print(f"| executor: {label} | {med(executor_rounds, name)} | — |")
    print(f"| by hand: remove the folder (not in the wall) | — | {med(hand_rounds, 'remove')} |")
    print(f"| **wall** | **{ex_med:.2f}** | **{hand_med:.2f}** |")

    print()
    print("The executor's phases as its `phase` was first seen by the 50-ms polling (seconds from")
    print("the POST; a phase shorter than a poll may never be seen):")
    print()
    print("| round | " + " | ".join(PHASES) + " |")
    print("|---:|" + "---:|" * len(PHASES))
    for n, r in enumerate(executor_rounds, start=1):
        cells = [f"{r.steps[p]:.2f}" if p in r.steps else "—" for p in PHASES]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("| median | " + " | ".join(med(executor_rounds, p) for p in PHASES) + " |")
    return overhead


EVENT_STEPS = [
    ("claimed: POST → `execution_started`", None, "execution_started", None),
    (
        "workspace made, phase recorded",
        "execution_started",
        "execution_phase cloning",
        None,
    ),
    (
        "clone (+ `git rev-parse`, phase update)",
        "execution_phase cloning",
        "execution_phase syncing",
        "git clone",
    ),
    ("sync", "execution_phase syncing", "execution_phase testing", "uv sync"),
    ("test", "execution_phase testing", "execution_phase uploading", "uv run pytest"),
    (
        "pack + upload, workspace removed, end recorded",
        "execution_phase uploading",
        "execution_finished",
        "pack + upload",
    ),
]


def executor_events(log: Path) -> dict[str, dict[str, float]]:
    """With ``--phases``: per execution, the time.time() of each ``execution_*`` event the
    executor logged (``execution_phase <phase>`` for phases)."""
    events: dict[str, dict[str, float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "execution_id" not in event or "timestamp" not in event:
            continue
        name = str(event.get("event", ""))
        if not name.startswith("execution_"):
            continue
        if "phase" in event:
            name += f" {event['phase']}"
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        events.setdefault(event["execution_id"], {}).setdefault(name, at)
    return events


def phases_report(executor_rounds: list[Round], hand_rounds: list[Round], log: Path) -> None:
    """With ``--phases``: the executor's phases from its own log events (millisecond clock)."""
    events = executor_events(log)
    names = [
        "execution_started",
        "execution_phase cloning",
        "execution_phase syncing",
        "execution_phase testing",
        "execution_phase uploading",
        "execution_finished",
    ]
    print()
    print("The executor's log events (`--phases`), seconds after the POST:")
    print()
    print("| round | " + " | ".join(f"`{n.split()[-1]}`" for n in names) + " | seen completed |")
    print("|---:|" + "---:|" * (len(names) + 1))
    spans: dict[str, list[float]] = {}
    for n, r in enumerate(executor_rounds, start=1):
        at = events.get(r.note, {})
        cells = [f"{at[name] - r.posted_at:.3f}" if name in at else "—" for name in names]
        print(f"| {n} | " + " | ".join(cells) + f" | {r.wall_s:.3f} |")
        for label, start, stop, _ in EVENT_STEPS:
            begin = r.posted_at if start is None else at.get(start)
            if begin is not None and stop in at:
                spans.setdefault(label, []).append(at[stop] - begin)
        if "execution_finished" in at:
            seen = r.wall_s - (at["execution_finished"] - r.posted_at)
            spans.setdefault("finished", []).append(seen)
    print()
    print("| step (medians) | executor s (its events) | by hand s |")
    print("|---|---:|---:|")
    for label, _, _, hand_step in EVENT_STEPS:
        hand = [h.steps[hand_step] for h in hand_rounds] if hand_step else []
        hand_text = f"{median(hand):.3f}" if hand else "—"
        print(f"| {label} | {median(spans.get(label, [])):.3f} | {hand_text} |")
    seen = median(spans.get("finished", []))
    print(f"| `execution_finished` → seen by a poll | {seen:.3f} | — |")
    removed = median([h.steps["remove"] for h in hand_rounds])
    print(f"| by hand: remove the folder (not in the wall) | — | {removed:.3f} |")


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each way (5)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"the executor on a fresh PostgreSQL database (server: ${SERVER_ENV})",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="the executor logs at info level (JSON); list its phases from its log events",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=POLL_S,
        help=f"seconds between polls of the execution ({POLL_S})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--strict", action="store_true", help="exit with 1 when the goal is missed")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="testops-bench-executor-"))
    server_url = os.environ.get(SERVER_ENV, DEFAULT_SERVER)
    database: str | None = None
    uv_cache = work / "uv-cache"
    uv_version = subprocess.run(["uv", "--version"], capture_output=True, text=True).stdout
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    settings = ExecutorSettings()
    overhead = 0.0
    try:
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.node()}, "
            f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 1024**3:.0f} GB, Python "
            f"{platform.python_version()}, {uv_version.strip()}, {git_version.strip()}; "
            f"load average {loadavg()}; work folder {work}"
        )
        began = time.perf_counter()
        repo_url, packages = make_repository(work, commands_env(work / "lock", uv_cache))
        print(f"repository {repo_url} ({packages}) in {time.perf_counter() - began:.1f} s")

        keys = make_keys(work / "keys")
        executor_settings = {
            "PRINCIPAL_PUBLIC_KEY_FILE": str(keys / "principal.pub"),
            "UPLOAD_SIGNING_KEY_FILE": str(keys / "executor.pem"),
            "DATA_DIR": str(work / "executor-data"),
            "ALLOWED_REPO_SCHEMES": "https,file",
            "UV_CACHE_DIR": str(uv_cache),
            "LOG_LEVEL": "info" if args.phases else "warning",
            "LOG_FORMAT": "json",
        }
        if args.postgres:
            database = f"testops_bench_executor_{uuid.uuid4().hex[:10]}"
            admin(server_url, f'CREATE DATABASE "{database}"')
            database_url = (
                make_url(server_url)
                .set(drivername="postgresql", database=database)
                .render_as_string(hide_password=False)
            )
            version = admin(database_url, "SELECT current_setting('server_version')")
            executor_settings["DATABASE_URL"] = database_url
            print(f"executor database: PostgreSQL {version}, {database}")
        else:
            print("executor database: SQLite under its DATA_DIR")
        print(
            f"executor: poll_interval_s {settings.poll_interval_s} (idle worker), log flushed "
            f"every {executor_logs.FLUSH_EVERY_S} s, heartbeat every "
            f"{max(0.2, min(settings.lease_s / 3, 2.0)):.1f} s; bench polls every {args.poll} s"
        )
        with contextlib.ExitStack() as stack:
            results_url, _ = stack.enter_context(
                service(
                    "testops-results",
                    "testops_results",
                    "TESTOPS_RESULTS_",
                    {
                        "PRINCIPAL_PUBLIC_KEY_FILE": str(keys / "principal.pub"),
                        "EXECUTOR_PUBLIC_KEY_FILE": str(keys / "executor.pub"),
                        "DATA_DIR": str(work / "results-data"),
                        "LOG_LEVEL": "warning",
                    },
                    work / "results.log",
                )
            )
            executor_settings["RESULTS_URL"] = results_url
            executor_url, executor_process = stack.enter_context(
                service(
                    "testops-executor",
                    "testops_executor",
                    "TESTOPS_EXECUTOR_",
                    executor_settings,
                    work / "executor.log",
                )
            )
            timeout = httpx.Timeout(600.0, connect=10.0)
            gateway_key = keys / "principal.pem"
            executor = stack.enter_context(
                httpx.Client(
                    base_url=executor_url,
                    timeout=timeout,
                    trust_env=False,
                    auth=AsGateway(gateway_key, "executor"),
                )
            )
            results = stack.enter_context(
                httpx.Client(
                    base_url=results_url,
                    timeout=timeout,
                    trust_env=False,
                    auth=AsGateway(gateway_key, "results"),
                )
            )

            # Warm-up, untimed: fills the uv cache with allure-pytest and the first venvs.
            warm_ex, _ = through_executor(
                executor, results, repo_url, 0, executor_process, args.poll
            )
            warm_hand = by_hand(results, repo_url, uv_cache, work, 0)
            print(
                f"warm-up (untimed): executor {warm_ex.wall_s:.2f} s, by hand "
                f"{warm_hand.wall_s:.2f} s; {warm_hand.tests} tests"
            )
            tests = warm_hand.tests

            executor_rounds: list[Round] = []
            hand_rounds: list[Round] = []
            last_log = ""
            load_before = loadavg()
            for n in range(1, args.rounds + 1):
                ex, last_log = through_executor(
                    executor, results, repo_url, n, executor_process, args.poll
                )
                hand = by_hand(results, repo_url, uv_cache, work, n)
                for r in (ex, hand):
                    if r.tests != tests:
                        raise SystemExit(f"round {n} ({r.way}): {r.tests} tests, not {tests}")
                executor_rounds.append(ex)
                hand_rounds.append(hand)
                print(
                    f"round {n}: executor {ex.wall_s:.2f} s, by hand {hand.wall_s:.2f} s "
                    f"({ex.wall_s / hand.wall_s:.3f}); load average {loadavg()}"
                )
            load_after = loadavg()

        overhead = report(executor_rounds, hand_rounds, tests)
        if args.phases:
            phases_report(executor_rounds, hand_rounds, work / "executor.log")
        print()
        print(f"load average {load_before} before the rounds, {load_after} after")
        print()
        print(f"The log of the last execution ({executor_rounds[-1].note}), `[testops]` lines:")
        for line in last_log.splitlines():
            if line.startswith("[testops]"):
                print(f"    {line}")
    finally:
        if database:
            admin(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if args.keep:
            print(f"kept: folder {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.strict and overhead > GOAL_OVERHEAD:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
