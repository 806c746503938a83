"""Benchmark of the catalog's test-case listing on PostgreSQL with 100,000 cases.

Creates a fresh database on the server of ``TESTOPS_BENCH_POSTGRES_URL``, migrates it with the
catalog's chain, fills it in bulk (COPY), runs VACUUM (ANALYZE), then times
``GET /api/v1/test-cases`` with filters, sorts and cursors against the real app, in-process
through its ASGI interface (``testops_kit.testing.app_client``): routing, validation, the
session, every SQL query and the JSON response are in the measure; the network is not.
See bench/README.md.

    make bench
    uv run python bench/catalog_list.py --keep --iterations 200
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from testops_catalog.main import MIGRATIONS, create_app
from testops_catalog.settings import CatalogSettings
from testops_catalog.test_cases.repository import KEYSETS
from testops_kit.logging import configure_logging
from testops_kit.migrations import upgrade
from testops_kit.projects import DEFAULT_PROJECT
from testops_kit.testing import app_client, principal_settings

SERVER_ENV = "TESTOPS_BENCH_POSTGRES_URL"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "testops_bench_catalog"
GOAL_P95_MS = 20.0
PAGE_SIZE = 50
WALK_PAGES = 20
LIST = "/api/v1/test-cases"
PROJECT = DEFAULT_PROJECT  # every row, as in a catalog made before projects

# --- the data set -------------------------------------------------------------------------------

AREAS = [
    "checkout", "login", "payment", "search", "profile", "cart", "inventory", "shipping",
    "billing", "reports", "admin", "notifications", "export", "import", "onboarding",
    "settings", "dashboard", "catalog", "orders", "webhooks",
]  # fmt: skip
VERBS = [
    "creates", "updates", "deletes", "validates", "rejects", "shows", "hides", "sorts",
    "filters", "exports", "renames", "archives", "restores", "merges", "duplicates",
]  # fmt: skip
OBJECTS = [
    "user", "order", "invoice", "product", "coupon", "address", "session", "token", "report",
    "comment", "refund", "subscription", "team", "role", "document", "payment method",
]  # fmt: skip
CONDITIONS = [
    "when the form is empty", "with an expired session", "for a guest user", "on mobile",
    "after a timeout", "with unicode input", "in dark mode", "with a slow network",
    "for an admin", "with two browser tabs open", "after a page reload", "with a long name",
    "when the quota is reached", "in read-only mode", "with feature flags off",
]  # fmt: skip
SENTENCES = [
    "Covers the {area} flow end to end for a {object}.",
    "The {object} must be saved and visible to other members of the team.",
    "Regression guard for a bug reported by support about the {area} page.",
    "Runs against the staging environment with seeded accounts.",
    "The audit log records who changed the {object} and when.",
    "Checks the error message and that nothing is half-saved.",
    "Uses the public API where the UI offers no shortcut.",
    "Make sure the {area} screen loads in under two seconds.",
]
TAGS = [
    "smoke", "regression", "critical", "ui", "api", "backend", "frontend", "e2e",
    "integration", "nightly", "p1", "p2", "mobile", "web", "sanity", "release", "security",
    "p0", "p3", "slow", "flaky", "auth", "payments", "search", "checkout", "i18n",
    "accessibility", "performance", "chrome", "firefox", "safari", "android", "ios", "manual",
    "automated", "blocked", "needs-review", "legacy", "beta", "gdpr", "billing", "reporting",
    "admin", "onboarding", "notifications", "export", "import", "webhooks", "sso", "audit",
]  # fmt: skip
# Tag popularity falls off like a Zipf law: "smoke" is on ~40% of cases, "audit" on ~1.5%.
TAG_WEIGHTS = [1 / (rank + 1) ** 0.9 for rank in range(len(TAGS))]
RARE_WORDS = 300  # pseudo-words, each put in the name or description of about 3 cases
RARE_SHARE = 0.01
DELETED_SHARE = 0.01
SUITES = 1000
ROOT_SUITES = 40


def rare_words(rng: random.Random) -> list[str]:
    """Made-up words that occur nowhere else in the generated text (all contain 'qz')."""
    syllables = ["ka", "lo", "mi", "vu", "re", "zo", "pa", "ti", "ne", "su", "go", "be"]
    words: set[str] = set()
    while len(words) < RARE_WORDS:
        words.add("".join(rng.choice(syllables) for _ in range(3)) + "qz" + rng.choice(syllables))
    return sorted(words)


@dataclass
class DataSet:
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    case_tags: list[tuple[int, int]] = field(default_factory=list)
    suites: list[tuple[Any, ...]] = field(default_factory=list)
    suite_cases: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    rare: list[str] = field(default_factory=list)


def generate(n_cases: int, seed: int) -> DataSet:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    data = DataSet(rare=rare_words(rng))
    data.tags = [(i + 1, PROJECT, name, now - timedelta(days=800)) for i, name in enumerate(TAGS)]
    for i in range(SUITES):
        suite_id = i + 1
        created = now - timedelta(days=rng.uniform(400, 790))
        if i < ROOT_SUITES:
            name, parent = f"{AREAS[i % len(AREAS)].title()} suite {i + 1}", None
        else:
            name, parent = f"Feature {suite_id:04d}", i % ROOT_SUITES + 1
        data.suites.append((suite_id, PROJECT, name, None, parent, 1, created, created, None))
    suite_positions = [0] * (SUITES + 1)
    step_id = 0
    for case_id in range(1, n_cases + 1):
        area, obj = rng.choice(AREAS), rng.choice(OBJECTS)
        name = f"{area.title()}: {rng.choice(VERBS)} {obj} {rng.choice(CONDITIONS)} #{case_id}"
        description: str | None = " ".join(
            sentence.format(area=area, object=obj) for sentence in rng.sample(SENTENCES, 2)
        )
        if rng.random() < 0.1:
            description = None
        if rng.random() < RARE_SHARE:
            word = rng.choice(data.rare)
            if description is None or rng.random() < 0.5:
                name = f"{name} ({word})"
            else:
                description = f"{description} See {word}."
        created = now - timedelta(days=rng.uniform(1, 730), seconds=rng.randrange(86_400))
        updated = created + (now - created) * rng.random()
        deleted = updated if rng.random() < DELETED_SHARE else None
        data.cases.append(
            (
                case_id,
                PROJECT,
                name,
                f"Signed in as a {obj} owner." if rng.random() < 0.5 else None,
                description,
                f"The {obj} is in the expected state.",
                rng.randint(1, 5),
                created,
                updated,
                deleted,
            )
        )
        for position in range(1, rng.randint(1, 5) + 1):
            step_id += 1
            attachments = json.dumps([f"screenshot-{step_id}.png"]) if step_id % 7 == 0 else None
            data.steps.append(
                (
                    step_id,
                    case_id,
                    position,
                    f"Step {position}: open the {area} page and act on the {obj}",
                    f"The {obj} is shown" if position % 2 else None,
                    attachments,
                )
            )
        tag_ids: set[int] = set()
        wanted = rng.randint(1, 4)
        while len(tag_ids) < wanted:
            tag_ids.add(rng.choices(range(1, len(TAGS) + 1), weights=TAG_WEIGHTS)[0])
        data.case_tags.extend((case_id, tag_id) for tag_id in sorted(tag_ids))
        for suite_id in rng.sample(range(1, SUITES + 1), rng.randint(1, 2)):
            suite_positions[suite_id] += 1
            data.suite_cases.append((suite_id, case_id, suite_positions[suite_id], created))
    return data


# --- the database -------------------------------------------------------------------------------


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def fill_marker(n_cases: int, seed: int) -> str:
    return f"testops bench catalog_list: cases={n_cases} seed={seed}"


async def existing_fill(server: str, database: str) -> str | None:
    """The marker of a filled bench database, or None when there is none."""
    connection = await asyncpg.connect(asyncpg_dsn(server))
    try:
        marker: str | None = await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            database,
        )
        return marker
    finally:
        await connection.close()


async def recreate_database(server: str, database: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


async def fill(server: str, database: str, n_cases: int, seed: int) -> DataSet:
    started = time.perf_counter()
    data = generate(n_cases, seed)
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    connection = await asyncpg.connect(asyncpg_dsn(server, database))
    try:
        tables: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
            ("tags", ["id", "project", "name", "created_at"], data.tags),
            (
                "suites",
                [
                    "id", "project", "name", "description", "parent_id", "version",
                    "created_at", "updated_at", "deleted_at",
                ],
                data.suites,
            ),
            (
                "test_cases",
                [
                    "id", "project", "name", "preconditions", "description", "expected_result",
                    "version", "created_at", "updated_at", "deleted_at",
                ],
                data.cases,
            ),
            (
                "test_case_steps",
                ["id", "test_case_id", "position", "action", "expected", "attachments"],
                data.steps,
            ),
            ("case_tags", ["test_case_id", "tag_id"], data.case_tags),
            (
                "suite_cases",
                ["suite_id", "test_case_id", "position", "created_at"],
                data.suite_cases,
            ),
        ]  # fmt: skip
        for table, columns, rows in tables:
            t0 = time.perf_counter()
            await connection.copy_records_to_table(table, records=rows, columns=columns)
            print(f"  {table:<16} {len(rows):>8,} rows in {time.perf_counter() - t0:.1f} s")
        for table in ("tags", "suites", "test_cases", "test_case_steps"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        t0 = time.perf_counter()
        await connection.execute("VACUUM (ANALYZE)")
        print(f"  VACUUM (ANALYZE) in {time.perf_counter() - t0:.1f} s")
    finally:
        await connection.close()
    return data


async def describe_server(server: str, database: str) -> tuple[str, list[str]]:
    """The server version, and the indexes of test_cases (to tell runs apart)."""
    connection = await asyncpg.connect(asyncpg_dsn(server, database))
    try:
        version = await connection.fetchval("SHOW server_version")
        rows = await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'test_cases' ORDER BY indexname"
        )
        extensions = await connection.fetch("SELECT extname FROM pg_extension ORDER BY extname")
    finally:
        await connection.close()
    indexes = [row["indexname"] for row in rows]
    return f"{version} (extensions: {', '.join(r['extname'] for r in extensions)})", indexes


# --- the measure --------------------------------------------------------------------------------

Params = dict[str, Any]


class Scenario:
    """One kind of request; ``params`` varies it from one request to the next."""

    def __init__(
        self, name: str, example: str, params: Callable[[random.Random], Params] | None = None
    ) -> None:
        self.name = name
        self.example = example
        self._params = params
        self.samples: list[float] = []
        self.sql: list[float] = []
        self.items: list[int] = []

    def params(self, rng: random.Random) -> Params:
        assert self._params is not None
        return self._params(rng)

    def observe(self, elapsed: float, sql: float, body: dict[str, Any], *, timed: bool) -> None:
        if timed:
            self.samples.append(elapsed)
            self.sql.append(sql)
            self.items.append(len(body["items"]))

    def quantile(self, q: float, samples: list[float] | None = None) -> float:
        ordered = sorted(self.samples if samples is None else samples)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


class CursorWalk(Scenario):
    """Pages of the default order followed by ``next_cursor``, WALK_PAGES pages per walk.

    The very first walk starts at the first page; the others at a cursor for a random id, encoded
    the way the service encodes its cursors, so that walks do not all read the same rows.
    """

    def __init__(self, n_cases: int) -> None:
        super().__init__(
            f"cursor walk, per page (limit {PAGE_SIZE})",
            f"?limit={PAGE_SIZE}&cursor=… ×{WALK_PAGES} pages",
        )
        self.n_cases = n_cases
        self.page = 0
        self.walks = 0
        self.cursor: str | None = None
        self.walk_total = 0.0
        self.totals: list[float] = []

    def params(self, rng: random.Random) -> Params:
        if self.page == 0 and self.walks > 0:
            start = rng.randint(1, max(1, self.n_cases - PAGE_SIZE * WALK_PAGES))
            self.cursor = KEYSETS["id"].encode([start])
        params: Params = {"limit": PAGE_SIZE}
        if self.cursor is not None:
            params["cursor"] = self.cursor
        return params

    def observe(self, elapsed: float, sql: float, body: dict[str, Any], *, timed: bool) -> None:
        super().observe(elapsed, sql, body, timed=timed)
        self.walk_total += elapsed
        self.page += 1
        self.cursor = body["next_cursor"]
        if self.page == WALK_PAGES or self.cursor is None:
            if timed:
                self.totals.append(self.walk_total)
            self.page, self.walk_total, self.cursor = 0, 0.0, None
            self.walks += 1


SHORT_FRAGMENTS = ["zq", "jx", "qz", "vq", "wz", "xk"]  # in 0 cases but "qz" (1%)


def scenarios(rare: list[str], n_cases: int, *, extra: bool = False) -> list[Scenario]:
    common = [*AREAS[:10], "user", "session", "order", "mobile", "expired"]
    more = [
        # Shorter than a trigram: no trigram index can serve it (see bench/README.md).
        Scenario(
            "q=<2-letter fragment> (in 0–1% of cases; --extra)",
            "?q=zq",
            lambda rng: {"q": rng.choice(SHORT_FRAGMENTS)},
        )
    ]
    return [
        Scenario("first page (default sort)", "", lambda rng: {}),
        CursorWalk(n_cases),
        Scenario(
            "tag=<tag> (50 tags, on 1.5–40% of cases)",
            "?tag=smoke",
            lambda rng: {"tag": rng.choice(TAGS)},
        ),
        Scenario(
            "q=<common word> (in 5–12% of cases)",
            "?q=checkout",
            lambda rng: {"q": rng.choice(common)},
        ),
        Scenario(
            "q=<rare word> (in 0–9 cases)",
            f"?q={rare[0]}",
            lambda rng: {"q": rng.choice(rare)},
        ),
        Scenario(
            f"suite_id=<suite> (of {SUITES}, ~150 cases each)",
            "?suite_id=123",
            lambda rng: {"suite_id": rng.randint(1, SUITES)},
        ),
        Scenario("sort=name, first page", "?sort=name", lambda rng: {"sort": "name"}),
        Scenario(
            "sort=-updated_at, first page", "?sort=-updated_at", lambda rng: {"sort": "-updated_at"}
        ),
        *(more if extra else []),
    ]


class SqlClock:
    """Time spent in the database driver (statement sent to rows received) by the app."""

    def __init__(self, engine: Any) -> None:
        self.total = 0.0
        self.started: dict[int, float] = {}
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        self.started[id(conn)] = time.perf_counter()

    def _after(self, conn: Any, *_: Any) -> None:
        self.total += (time.perf_counter() - self.started.pop(id(conn))) * 1000

    def take(self) -> float:
        total, self.total = self.total, 0.0
        return total


class GcClock:
    """Pauses of the cyclic garbage collector, by generation, while it is installed."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        parts = []
        for generation, pauses in self.pauses.items():
            if pauses:
                parts.append(
                    f"gen {generation}: {len(pauses)} × median {statistics.median(pauses):.2f} ms,"
                    f" max {max(pauses):.2f} ms"
                )
        return "; ".join(parts) or "none"


async def request(
    client: httpx.AsyncClient, clock: SqlClock, params: Params
) -> tuple[float, float, dict[str, Any]]:
    clock.take()
    started = time.perf_counter()
    response = await client.get(LIST, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    sql = clock.take()
    if response.status_code != 200:
        raise RuntimeError(f"GET {LIST} {params} answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return elapsed, sql, body


async def measure(
    client: httpx.AsyncClient,
    clock: SqlClock,
    selected: list[Scenario],
    rng: random.Random,
    warmup: int,
    rounds: int,
) -> None:
    """Rounds of one request per query, in a shuffled order, so that a burst of load from
    elsewhere on the machine spreads over every query instead of spoiling one."""
    for index in range(warmup + rounds):
        order = list(selected)
        rng.shuffle(order)
        for scenario in order:
            elapsed, sql, body = await request(client, clock, scenario.params(rng))
            scenario.observe(elapsed, sql, body, timed=index >= warmup)
        if (index + 1) % 50 == 0:
            print(f"  {index + 1}/{warmup + rounds} rounds", file=sys.stderr, flush=True)


def print_table(selected: list[Scenario]) -> list[str]:
    """The Markdown table of the figures; returns the names of queries that miss the goal."""
    missed = []
    goal = f"p95 ≤ {GOAL_P95_MS:g} ms"
    print(f"| query | example | n | p50 ms | p95 ms | max ms | SQL p50 ms | items | {goal} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|:---:|")
    for s in selected:
        if not s.samples:
            continue
        ok = s.quantile(0.95) <= GOAL_P95_MS
        if not ok:
            missed.append(s.name)
        example = f"`{s.example}`" if s.example else "—"
        print(
            f"| {s.name} | {example} | {len(s.samples)} | {statistics.median(s.samples):.1f} "
            f"| {s.quantile(0.95):.1f} | {max(s.samples):.1f} | {statistics.median(s.sql):.1f} "
            f"| {statistics.mean(s.items):.1f} | {'yes' if ok else '**no**'} |"
        )
    for s in selected:
        if isinstance(s, CursorWalk) and s.totals:
            print(
                f"| cursor walk, {WALK_PAGES} pages in total | — | {len(s.totals)} "
                f"| {statistics.median(s.totals):.1f} | {s.quantile(0.95, s.totals):.1f} "
                f"| {max(s.totals):.1f} | — | {WALK_PAGES * PAGE_SIZE} | (not a goal) |"
            )
    return missed


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def explain(app: Any, client: httpx.AsyncClient, params: Params) -> str:
    """EXPLAIN ANALYZE of the test_cases SELECT the app runs for ``params``, twice: the custom
    plan (made for these values; what the first 5 runs of a prepared statement get) and the
    generic plan (made for any value; what a prepared statement may switch to afterwards)."""
    engine = app.state.database.engine
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT test_cases.") and " LIMIT " in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await client.get(LIST, params=params)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    if not captured:
        return "  (no test_cases SELECT was run)"
    statement, parameters = captured[0]
    analyze = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    async with engine.connect() as connection:
        custom = await connection.exec_driver_sql(analyze + statement, parameters)
        lines = ["  custom plan:", *("    " + row[0] for row in custom)]
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE bench_explain AS {statement}")
        arguments = ", ".join(_literal(value) for value in parameters)
        execute = f"EXECUTE bench_explain({arguments})" if arguments else "EXECUTE bench_explain"
        generic = await connection.exec_driver_sql(analyze + execute)
        lines += ["  generic plan:", *("    " + row[0] for row in generic)]
        await connection.exec_driver_sql("DEALLOCATE bench_explain")
        await connection.rollback()
    return "\n".join(lines)


async def prepare_database(args: argparse.Namespace, server: str, db_url: str) -> list[str]:
    """Create and fill the bench database (or reuse it with --keep); the rare words."""
    database = args.database
    marker = fill_marker(args.cases, args.seed)
    shown = make_url(server).set(database=database).render_as_string(hide_password=True)
    if args.keep and await existing_fill(server, database) == marker:
        print(f"Reusing {shown} ({marker}); migrating it to head.", flush=True)
        await upgrade(MIGRATIONS, db_url)
        return rare_words(random.Random(args.seed))
    print(f"Creating {shown} with {args.cases:,} test cases...", flush=True)
    started = time.perf_counter()
    await recreate_database(server, database)
    await upgrade(MIGRATIONS, db_url)
    rare = (await fill(server, database, args.cases, args.seed)).rare
    connection = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await connection.execute(f"COMMENT ON DATABASE \"{database}\" IS '{marker}'")
    finally:
        await connection.close()
    print(f"  ready in {time.perf_counter() - started:.1f} s", flush=True)
    return rare


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def run(args: argparse.Namespace) -> int:
    configure_logging(level="warning")  # no access-log line per request in the output
    server = os.environ.get(SERVER_ENV) or DEFAULT_SERVER
    db_url = (
        make_url(server)
        .set(drivername="postgresql+asyncpg", database=args.database)
        .render_as_string(hide_password=False)
    )
    rare = await prepare_database(args, server, db_url)
    version, indexes = await describe_server(server, args.database)
    selected = [
        s
        for s in scenarios(rare, args.cases, extra=args.extra)
        if not args.only or any(word in s.name for word in args.only)
    ]
    # app_client signs each request's principal as the gateway would, with the key these
    # settings make the app trust.
    app = create_app(
        CatalogSettings(database_url=db_url, migrate_on_start=False, **principal_settings())
    )
    rng = random.Random(args.seed + 1)
    load_before = load()
    async with app_client(app) as client:
        clock = SqlClock(app.state.database.engine)
        print(
            f"Measuring {len(selected)} queries: {args.warmup} warm-up rounds, "
            f"{args.iterations} timed rounds...",
            file=sys.stderr,
            flush=True,
        )
        if args.gc_freeze:
            # What testops_kit.server.serve does before serving: the objects of the imports and
            # the start-up move to the permanent generation, out of every later collection.
            gc.collect()
            gc.freeze()
        with GcClock() as gc_clock:
            await measure(client, clock, selected, rng, args.warmup, args.iterations)
        load_after = load()
        if args.explain:
            print("\nPlans of the test_cases SELECT (one request each):\n")
            for scenario in selected:
                if isinstance(scenario, CursorWalk):
                    scenario.walks = 1  # a page after a cursor rather than the first page
                params = scenario.params(random.Random(args.seed))
                print(f"{scenario.name}: {params}")
                print(await explain(app, client, params) + "\n")

    print()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · PostgreSQL {version} · Python "
        f"{platform.python_version()} · {os.cpu_count()} CPUs · load average {load_before} "
        f"before, {load_after} after"
    )
    print(
        f"{args.cases:,} cases · {args.warmup} warm-up + {args.iterations} timed rounds of one "
        f"request per query, shuffled · test_cases indexes: {', '.join(indexes)}"
    )
    frozen = "no gc.freeze()"
    if args.gc_freeze:
        frozen = f"gc.freeze() of {gc.get_freeze_count():,} objects"
    print(f"Garbage collector ({frozen}), pauses while measuring: {gc_clock.summary()}")
    print()
    missed = print_table(selected)
    if missed:
        print(f"\np95 above {GOAL_P95_MS:g} ms: {'; '.join(missed)}")
    return 1 if missed and args.strict else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the bench database when it was filled with the same --cases and --seed",
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="name of the bench database")
    parser.add_argument("--cases", type=int, default=100_000, help="number of test cases")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the queries")
    parser.add_argument(
        "--iterations", type=int, default=200, help="timed requests per query (default 200)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed requests per query first (default 20)"
    )
    parser.add_argument(
        "--only", nargs="*", default=[], help="measure only queries whose name contains a word"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of each query's SELECT"
    )
    parser.add_argument(
        "--extra",
        action="store_true",
        help="also measure q=<2-letter fragment>, which no trigram index can serve",
    )
    parser.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="gc.freeze() after start-up, as testops_kit.server.serve does (default: on)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a query misses the p95 goal"
    )
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
