"""TestOps as docker-compose.yml deploys it, run natively by ``make run-prod``
(``scripts/run.py --prod``): compose's settings for every process, PostgreSQL, S3 (moto's server
standing in for MinIO), compose's secrets (the key pairs) as local files, migrations as a step of
their own, and several executor processes on one queue. Tests reach it through its gateway, like
:func:`tests.e2e.stack.deploy`'s deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import psutil
from sqlalchemy.engine import make_url
from tests.e2e.stack import TOKEN_SCOPES, Deployment

from testops_gateway.auth import new_token, token_line
from testops_kit.testing import test_public_key, test_signing_key, wait_for

REPO = Path(__file__).resolve().parents[2]
READY_WITHIN_S = 150.0
"""Databases, bucket, migrations, then seven processes, on a busy machine."""


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(200):
        first = random.randrange(20_000, 60_000 - count)
        sockets = []
        try:
            for port in range(first, first + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
        return first
    raise RuntimeError(f"no {count} consecutive free ports")


async def _drop_databases(server_url: str, prefix: str) -> None:
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        for row in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


@asynccontextmanager
async def run_production(
    *, postgres_url: str, folder: Path, executors: int = 3
) -> AsyncIterator[Deployment]:
    """``scripts/run.py --prod`` on free ports and databases of its own on ``postgres_url``'s
    server, knowing the tokens of :data:`TOKEN_SCOPES` and signing principals with the test signing
    key; ready when this yields, stopped (Ctrl-C, as a user stops it) and its databases dropped on
    exit."""
    tokens = {name: new_token() for name in TOKEN_SCOPES}
    lines = [token_line(name, TOKEN_SCOPES[name], tokens[name]) for name in TOKEN_SCOPES]
    first = free_port_block(4 + executors)
    prefix = f"e2e_prod_{uuid.uuid4().hex[:8]}_"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESTOPS_")}
    env.update(
        {
            # What a team puts in compose's .env: the tokens' lines, and local repositories.
            "TESTOPS_GATEWAY_TOKENS": ";".join(lines),
            "TESTOPS_EXECUTOR_ALLOWED_REPO_SCHEMES": "https,file",
        }
    )
    # The gateway's key pair is the test signing key (run.py keeps a pair that is there, as an
    # operator's own): the tests that call a service directly sign as the gateway would.
    secrets = folder / "data" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "principal.pem").touch(mode=0o600)
    (secrets / "principal.pem").write_bytes(test_signing_key())
    (secrets / "principal.pub").write_text(test_public_key(), encoding="utf-8")
    log_path = folder / "run-prod.log"
    command = [
        sys.executable,
        str(REPO / "scripts" / "run.py"),
        "--prod",
        f"--executors={executors}",
        f"--port={first}",
        f"--data-dir={folder / 'data'}",
        f"--database-prefix={prefix}",
        f"--postgres={postgres_url}",
        f"--env-file={folder / 'no.env'}",
    ]

    def spawn() -> subprocess.Popen[bytes]:
        with log_path.open("wb") as log:
            return subprocess.Popen(
                command,
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    process = await asyncio.to_thread(spawn)
    url = f"http://127.0.0.1:{first}"

    def log_tail() -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])

    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=2) as client:

            async def ready() -> bool | None:
                if process.poll() is not None:
                    raise RuntimeError(f"run-prod exited with {process.returncode}:\n{log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return True
                return None

            await wait_for(ready, within=READY_WITHIN_S, interval=0.2)
        yield Deployment(
            url=url,
            services={
                "catalog": f"http://127.0.0.1:{first + 1}",
                "results": f"http://127.0.0.1:{first + 2}",
                "executor": f"http://127.0.0.1:{first + 3}",
            },
            tokens=tokens,
            storage="s3",
            executors=executors,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(process.wait, 40)
            except subprocess.TimeoutExpired:
                # run.py starts each process in a session of its own: kill them one by one.
                with contextlib.suppress(psutil.NoSuchProcess):
                    for child in psutil.Process(process.pid).children(recursive=True):
                        child.kill()
                process.kill()
                await asyncio.to_thread(process.wait, 10)
        await _drop_databases(postgres_url, prefix)
