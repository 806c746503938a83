"""Run the whole of TestOps on this machine: catalog, results, executor and the gateway.

``make run`` calls this. Every process's output is prefixed with its name; once the gateway
answers ``/readyz`` (which means every service does), the URLs are printed. Ctrl-C (or TERM)
stops everything; so does any process exiting on its own.

The processes take their usual settings from the environment (README.md). The gateway is
started without authentication when no token is configured, which it allows only while it
listens on a loopback address.

``--prod`` (``make run-prod``) runs them as docker-compose.yml deploys them instead, with the
settings compose gives each container (scripts/compose_native.py): PostgreSQL (the server of
``--postgres``), S3 (moto's server standing in for MinIO, or ``--s3-endpoint``), compose's
secrets (the key pairs) as files of ``<data dir>/secrets``, made when missing, migrations as a
step of their own before the processes start, and several executor processes on one queue.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import FrameType

REPO = Path(__file__).resolve().parent.parent

READY_WITHIN_S = 120.0


class Process:
    def __init__(self, name: str, env: Mapping[str, str]) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            [sys.executable, "-m", f"testops_{name.split('-')[0]}"],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped by us, in order, not by the terminal's Ctrl-C
        )
        threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        assert self.popen.stdout is not None
        prefix = f"{self.name:<10}| ".encode()
        for line in self.popen.stdout:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()


def _say(text: str) -> None:
    sys.stdout.write(f"{'testops':<10}| {text}\n")
    sys.stdout.flush()


def _gateway_url(env: dict[str, str]) -> str:
    host = env.get("TESTOPS_GATEWAY_HOST", "127.0.0.1")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{env.get('TESTOPS_GATEWAY_PORT', '8000')}"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(popens: list[subprocess.Popen[bytes]], *, within: float = 15) -> None:
    """Terminate them all, and kill what is still running ``within`` seconds later."""
    for popen in popens:
        if popen.poll() is None:
            popen.terminate()
    deadline = time.monotonic() + within
    for popen in popens:
        try:
            popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@dataclass
class Plan:
    """What to start: each process's name and environment, in order, the gateway last."""

    processes: list[tuple[str, dict[str, str]]]
    gateway_url: str
    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Stand-ins for what the deployment would provide (moto's S3 server): stopped last."""


def _executor_names(count: int) -> list[str]:
    return ["executor"] if count == 1 else [f"executor-{n + 1}" for n in range(count)]


def embedded_plan(args: argparse.Namespace) -> Plan:
    """The embedded defaults: the processes' own settings from the environment."""
    env = dict(os.environ)
    gateway_env = dict(env)
    tokens_configured = env.get("TESTOPS_GATEWAY_TOKENS") or env.get("TESTOPS_GATEWAY_TOKENS_FILE")
    if not tokens_configured and "TESTOPS_GATEWAY_AUTH_DISABLED" not in env:
        gateway_env["TESTOPS_GATEWAY_AUTH_DISABLED"] = "true"
        _say(
            "no gateway token configured: anonymous access on loopback (to require tokens: "
            "uv run testops-gateway create-token --name ci --scopes read,write,execute, then "
            "start with TESTOPS_GATEWAY_TOKENS='<the line it prints>' make run)"
        )
    processes = [("catalog", dict(env)), ("results", dict(env))]
    first_executor_port = int(env.get("TESTOPS_EXECUTOR_PORT", "8003"))
    for index, name in enumerate(_executor_names(args.executors)):
        child_env = dict(env)
        if args.executors > 1:
            child_env["TESTOPS_EXECUTOR_PORT"] = str(first_executor_port + index)
        processes.append((name, child_env))
    processes.append(("gateway", gateway_env))
    data_dir = Path(env.get("TESTOPS_GATEWAY_DATA_DIR", ".testops")).resolve()
    _use_keys(processes, data_dir / "keys")
    return Plan(processes=processes, gateway_url=_gateway_url(gateway_env))


def _use_keys(processes: list[tuple[str, dict[str, str]]], folder: Path) -> None:
    """Make the key pairs (once; kept in ``folder``) — the one the gateway signs principals
    with, the one the executor signs its uploads with — and give each process the halves it
    needs, unless its environment names them already."""
    from testops_kit.principal import ensure_key_pair

    for pair in ("principal", "executor"):
        if ensure_key_pair(folder / f"{pair}.pem", folder / f"{pair}.pub"):
            _say(f"made the key pair {pair}.pem/.pub in {folder}")
    needs = {
        "gateway": [("PRINCIPAL_PRIVATE_KEY", "principal.pem")],
        "catalog": [("PRINCIPAL_PUBLIC_KEY", "principal.pub")],
        "results": [
            ("PRINCIPAL_PUBLIC_KEY", "principal.pub"),
            ("EXECUTOR_PUBLIC_KEY", "executor.pub"),
        ],
        "executor": [
            ("PRINCIPAL_PUBLIC_KEY", "principal.pub"),
            ("UPLOAD_SIGNING_KEY", "executor.pem"),
        ],
    }
    for name, env in processes:
        kind = name.split("-")[0]  # executor-2 is an executor
        prefix = f"TESTOPS_{kind.upper()}_"
        for setting, file in needs[kind]:
            if not env.get(prefix + setting) and not env.get(prefix + setting + "_FILE"):
                env[prefix + setting + "_FILE"] = str(folder / file)


def production_plan(args: argparse.Namespace) -> Plan:
    """docker-compose.yml's settings, made native; databases, bucket and migrations done."""
    import compose_native as compose

    document = compose.load(args.compose_file)
    variables: dict[str, str] = {}
    if args.env_file.is_file():
        variables.update(compose.read_env_file(args.env_file))
        _say(f"variables from {args.env_file} and the environment")
    variables.update(os.environ)  # as compose: the shell's environment wins over .env
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _fill_in(variables, data_dir)
    try:
        compose.interpolate_document(document, variables)  # fails as `docker compose` would
    except compose.ComposeError as exc:
        raise SystemExit(f"{args.compose_file}: {exc}") from None
    ports = {
        "gateway": args.port,
        "catalog": args.port + 1,
        "results": args.port + 2,
        "executor": args.port + 3,
    }
    helpers: list[subprocess.Popen[bytes]] = []
    s3_endpoint = args.s3_endpoint
    if not s3_endpoint:
        server, s3_endpoint = _start_moto(args.moto_port)
        helpers.append(server)
        _say(f"S3: moto's server on {s3_endpoint}, standing in for MinIO")
    place = compose.NativePlace(
        ports=ports,
        postgres_url=args.postgres,
        database_prefix=args.database_prefix,
        s3_endpoint_url=s3_endpoint,
        data_dir=data_dir,
        allure_dir=REPO / ".tools" / "allure",
        secrets_dir=data_dir / "secrets",
    )
    # What compose does with its own services: only these variables, and no TESTOPS_* of ours.
    base = {key: value for key, value in os.environ.items() if not key.startswith("TESTOPS_")}

    def settings(service: str) -> dict[str, str]:
        environment = compose.service_environment(document, service, variables)
        secrets = compose.service_secrets(document, service)
        return {**base, **compose.native_environment(environment, service, place, secrets)}

    try:
        _make_secrets(compose.secret_files(document), place.secrets_dir)
        envs = {name: settings(name) for name in compose.PROCESSES}
        _create_databases(args.postgres, envs)
        _create_buckets(envs)
        for name in compose.PROCESSES:
            _migrate(
                name,
                settings(f"migrate-{name}")
                if f"migrate-{name}" in document["services"]
                else envs[name],
            )
    except compose.ComposeError as exc:
        _stop(helpers, within=10)
        raise SystemExit(f"{args.compose_file}: {exc}") from None
    except BaseException:
        _stop(helpers, within=10)
        raise
    processes = []
    for name in ("catalog", "results"):
        processes.append((name, {**envs[name], f"TESTOPS_{name.upper()}_PORT": str(ports[name])}))
    for index, name in enumerate(_executor_names(args.executors)):
        port = str(ports["executor"] + index)
        processes.append((name, {**envs["executor"], "TESTOPS_EXECUTOR_PORT": port}))
    gateway_env = {**envs["gateway"], "TESTOPS_GATEWAY_PORT": str(ports["gateway"])}
    processes.append(("gateway", gateway_env))
    _say(
        f"{args.executors} executor processes on one queue; databases {args.database_prefix}* on "
        f"{_server_name(args.postgres)}; state in {data_dir}"
    )
    return Plan(processes=processes, gateway_url=_gateway_url(gateway_env), helpers=helpers)


GENERATED = (
    "POSTGRES_PASSWORD",
    "CATALOG_DB_PASSWORD",
    "RESULTS_DB_PASSWORD",
    "EXECUTOR_DB_PASSWORD",
    "GATEWAY_DB_PASSWORD",
    "MINIO_ROOT_PASSWORD",
)
"""Secrets compose needs that mean nothing natively (the server and moto are given): made up
when neither the environment nor .env has them."""


def _fill_in(variables: dict[str, str], data_dir: Path) -> None:
    for name in GENERATED:
        if not variables.get(name):
            variables[name] = secrets.token_hex(24)
    variables.setdefault("MINIO_ROOT_USER", "testops")
    if not variables.get("TESTOPS_GATEWAY_TOKENS"):
        variables["TESTOPS_GATEWAY_TOKENS"] = _make_ci_token(data_dir)


def _make_secrets(files: Mapping[str, str], folder: Path) -> None:
    """Each of compose's secret files, in ``folder``: the key pairs ``<name>.pem``/``.pub``
    (what ``testops-gateway keygen`` makes), made when missing; a pair that is there is kept."""
    from testops_kit.principal import ensure_key_pair

    pairs: set[str] = set()
    for name, file in files.items():
        path = PurePosixPath(file)
        if path.suffix not in (".pem", ".pub"):
            raise SystemExit(f"secret {name!r} ({file}): only key pairs (.pem, .pub) are made")
        pairs.add(path.stem)
    for pair in sorted(pairs):
        if ensure_key_pair(folder / f"{pair}.pem", folder / f"{pair}.pub"):
            _say(f"made the key pair {pair}.pem/.pub in {folder} (compose's secrets)")


def _make_ci_token(data_dir: Path) -> str:
    """A token for the CI pipeline, kept in a file only its owner may read; its config line."""
    from testops_gateway.auth import new_token, token_line

    token = new_token()
    path = data_dir / "ci-token"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(token + "\n", encoding="utf-8")
    _say(f"TESTOPS_GATEWAY_TOKENS is not set: made a token 'ci' (read,write,execute), in {path}")
    return token_line("ci", ["read", "write", "execute"], token)


def _server_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _create_databases(server_url: str, envs: Mapping[str, Mapping[str, str]]) -> None:
    """Each database a process is given, made when missing (what compose's init script does)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    names = sorted(
        {
            make_url(value).database or ""
            for env in envs.values()
            for key, value in env.items()
            if key.endswith("_DATABASE_URL")
        }
    )

    async def create() -> None:
        admin = make_url(server_url).set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            for name in names:
                exists = await connection.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", name
                )
                if not exists:
                    quoted = '"' + name.replace('"', '""') + '"'
                    await connection.execute(f"CREATE DATABASE {quoted}")
                    _say(f"database {name} created")
        finally:
            await connection.close()

    asyncio.run(create())


def _create_buckets(envs: Mapping[str, Mapping[str, str]]) -> None:
    """Each bucket a process stores in, made when missing (what compose's minio-init does)."""
    import boto3

    for env in envs.values():
        for key, url in env.items():
            if not key.endswith("_STORAGE_URL") or not url.startswith("s3://"):
                continue
            prefix = key[: -len("STORAGE_URL")]
            client = boto3.client(
                "s3",
                endpoint_url=env.get(f"{prefix}S3_ENDPOINT_URL"),
                region_name=env.get(f"{prefix}S3_REGION"),
                aws_access_key_id=env.get(f"{prefix}S3_ACCESS_KEY_ID"),
                aws_secret_access_key=env.get(f"{prefix}S3_SECRET_ACCESS_KEY"),
            )
            bucket = url.removeprefix("s3://").split("/", 1)[0]
            existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
                _say(f"bucket {bucket} created")


def _migrate(name: str, env: Mapping[str, str]) -> None:
    """``testops-<name> migrate``: the deploy step before the service starts."""
    _say(f"migrating {name}")
    done = subprocess.run(
        [sys.executable, "-m", f"testops_{name}", "migrate"], env=dict(env), check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"testops-{name} migrate failed with {done.returncode}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_moto(port: int | None) -> tuple[subprocess.Popen[bytes], str]:
    port = port or _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return server, endpoint
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's S3 server did not start")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--executors",
        type=int,
        default=1,
        help="executor processes (default: 1; more than one needs the executor on PostgreSQL)",
    )
    prod = parser.add_argument_group("production mode (docker-compose.yml's settings, natively)")
    prod.add_argument("--prod", action="store_true", help="run as docker-compose.yml deploys")
    prod.add_argument(
        "--postgres",
        default=os.environ.get(
            "TESTOPS_PROD_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="the PostgreSQL server (an admin's URL; env TESTOPS_PROD_POSTGRES_URL)",
    )
    prod.add_argument(
        "--database-prefix", default="testops_", help="in front of compose's database names"
    )
    prod.add_argument("--s3-endpoint", help="an S3 endpoint instead of starting moto's server")
    prod.add_argument("--moto-port", type=int, help="port of moto's server (default: a free one)")
    prod.add_argument(
        "--port", type=int, default=8000, help="the gateway's; services take the next"
    )
    prod.add_argument("--data-dir", type=Path, default=REPO / ".testops-prod", help="local state")
    prod.add_argument("--compose-file", type=Path, default=REPO / "docker-compose.yml")
    prod.add_argument("--env-file", type=Path, default=REPO / ".env", help="compose's .env")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    plan = production_plan(args) if args.prod else embedded_plan(args)
    processes: list[Process] = []
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, env in plan.processes:
            processes.append(Process(name, env))
        url = plan.gateway_url
        deadline = time.monotonic() + READY_WITHIN_S
        announced = False
        while not stopping.wait(0.25):
            exited = [p for p in processes if p.popen.poll() is not None]
            if exited:
                _say(f"{exited[0].name} exited with {exited[0].popen.returncode}: stopping")
                return 1
            if not announced and _ready(url):
                announced = True
                _say(f"TestOps is ready: {url}/api/v1   docs: {url}/api/v1/docs   (Ctrl-C stops)")
            elif not announced and time.monotonic() > deadline:
                _say(f"not ready after {READY_WITHIN_S:.0f} s: see {url}/readyz; stopping")
                return 1
        _say("stopping")
        return 0
    finally:
        _stop([process.popen for process in processes])
        _stop(plan.helpers, within=10)


if __name__ == "__main__":
    raise SystemExit(main())
