"""pytest plugin: a fresh database per test session, and an HTTP client for an app.

Enabled with ``-p testops_kit.testing``. Without ``TESTOPS_TEST_POSTGRES_URL`` every database is a
new SQLite file; with it, a new PostgreSQL database is created for the session on that server and
dropped at the end::

    @pytest.fixture(scope="session")
    async def client(database_url_factory):
        settings = CatalogSettings(database_url=database_url_factory("catalog"))
        async with app_client(create_app(settings)) as client:
            yield client
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import boto3
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from testops_kit.principal import (
    GATEWAY_ISSUER,
    Principal,
    PrincipalSigner,
    generate_private_key,
    load_private_key,
    public_key_of,
)
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.projects import DEFAULT_PROJECT

TEST_POSTGRES_ENV = "TESTOPS_TEST_POSTGRES_URL"
TEST_STORAGES_ENV = "TESTOPS_TEST_STORAGES"
TEST_BUCKET = "testops-test"

T = TypeVar("T")


def postgres_test_url() -> str | None:
    """The PostgreSQL server tests should use, when one is configured."""
    return os.environ.get(TEST_POSTGRES_ENV) or None


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def pytest_report_header(config: pytest.Config) -> str:
    url = postgres_test_url()
    backend = make_url(url).render_as_string(hide_password=True) if url else "SQLite files"
    return f"testops databases: {backend}; storages: {', '.join(test_storages())}"


def test_storages() -> list[str]:
    """The storages storage-backed tests run on: the one that goes with the database — a local
    folder with SQLite, S3 with PostgreSQL, the two ways TestOps runs — unless
    ``TESTOPS_TEST_STORAGES`` names others (``file,s3``: both)."""
    default = "s3" if postgres_test_url() else "file"
    names = [n.strip() for n in os.environ.get(TEST_STORAGES_ENV, default).split(",")]
    return [n for n in names if n in ("file", "s3")] or [default]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint on loopback (moto's server in a child process) with a test bucket."""
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
            time.sleep(0.1)  # a synchronous fixture waiting for a child process
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
        ).create_bucket(Bucket=TEST_BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session", params=test_storages())
def storage_backend(request: pytest.FixtureRequest) -> str:
    """``file`` or ``s3``: tests that use it run once per storage."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def storage_settings_factory(
    storage_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[str], dict[str, Any]]:
    """Settings (as keyword arguments) of a new, empty storage namespace named after ``name``."""

    def make(name: str) -> dict[str, Any]:
        if storage_backend == "file":
            folder = tmp_path_factory.mktemp(f"{name}-blobs")
            return {"storage_url": f"file://{folder}"}
        endpoint = request.getfixturevalue("s3_endpoint")
        return {
            "storage_url": f"s3://{TEST_BUCKET}/{name}-{uuid.uuid4().hex[:10]}",
            "s3_endpoint_url": endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing-secret",
        }

    return make


@pytest.fixture(scope="session")
def database_backend() -> str:
    """``postgresql`` or ``sqlite``: what this test session runs against."""
    return "postgresql" if postgres_test_url() else "sqlite"


@pytest.fixture(scope="session")
def database_url_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], str]]:
    """Make a new, empty database named after ``name``; it lives as long as the session."""
    admin_url = postgres_test_url()
    created: list[str] = []

    def make(name: str) -> str:
        if admin_url is None:
            folder = tmp_path_factory.mktemp(name)
            return f"sqlite+aiosqlite:///{folder / (name + '.db')}"
        database = f"testops_{name}_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
        created.append(database)
        return (
            make_url(admin_url)
            .set(drivername="postgresql+asyncpg", database=database)
            .render_as_string(hide_password=False)
        )

    yield make
    for database in created:
        assert admin_url is not None
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


TEST_PRINCIPAL = Principal(
    subject="test-admin",
    name="test-admin",
    project=DEFAULT_PROJECT,
    role="admin",
    scopes=frozenset({"admin"}),
)
"""Who tests act as, unless they say otherwise: an instance admin in the default project."""


@functools.cache
def test_signing_key() -> bytes:
    """The private key that stands for the gateway's in tests (one per test process)."""
    return generate_private_key()


def test_public_key() -> str:
    """The public half of :func:`test_signing_key`, as the services' setting takes it."""
    return public_key_of(test_signing_key()).decode()


@functools.cache
def test_executor_signing_key() -> bytes:
    """The private key that stands for the executor's upload key in tests (one per test
    process)."""
    return generate_private_key()


def test_executor_public_key() -> str:
    """The public half of :func:`test_executor_signing_key`, as results' setting takes it."""
    return public_key_of(test_executor_signing_key()).decode()


def upload_signing_settings() -> dict[str, str]:
    """The settings (keyword arguments) that make an executor sign its uploads to results with
    :func:`test_executor_signing_key`."""
    return {"upload_signing_key": test_executor_signing_key().decode()}


def principal_settings() -> dict[str, str]:
    """The settings (keyword arguments) that make a service trust the test signing key."""
    return {"principal_public_key": test_public_key()}


def gateway_principal_settings() -> dict[str, str]:
    """The settings (keyword arguments) that make a gateway sign with the test signing key."""
    return {"principal_private_key": test_signing_key().decode()}


class PrincipalAuth(httpx.Auth):
    """Signs a fresh principal for ``audience`` into every request, as the gateway does."""

    def __init__(self, audience: str, principal: Principal = TEST_PRINCIPAL) -> None:
        self.audience = audience
        self.principal = principal
        self.signer = PrincipalSigner(load_private_key(test_signing_key()), issuer=GATEWAY_ISSUER)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[PRINCIPAL_HEADER] = self.signer.sign(self.principal, audience=self.audience)
        yield request


@asynccontextmanager
async def app_client(
    app: FastAPI,
    *,
    base_url: str = "http://testserver",
    principal: Principal | None = TEST_PRINCIPAL,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` with its lifespan running, as ``principal`` (signed
    with :func:`test_signing_key` for a service app; None: as no one)."""
    audience: str | None = getattr(app.state, "principal_audience", None)
    auth = PrincipalAuth(audience, principal) if audience and principal else None
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, auth=auth) as client:
            yield client


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 10.0, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something other than None; fail after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if loop.time() >= deadline:
            raise TimeoutError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is a problem+json error with ``status`` and ``code``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert body["detail"], body
    return body


async def hang_up_mid_body(request: httpx.Request, *, sent: int) -> None:
    """Send ``request``'s head and the first ``sent`` bytes of its body over a new connection,
    then close it: a client that goes away in the middle of its upload. Only a real server shows
    what follows (the in-process transport always delivers the whole body)::

        request = client.build_request("POST", "/api/v1/runs", files=files)
        await hang_up_mid_body(request, sent=len(request.read()) // 2)
    """
    body = request.read()
    if not 0 <= sent < len(body):
        raise ValueError(f"sent must be under the body's {len(body)} bytes")
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    head = [f"{request.method} {url.raw_path.decode('ascii')} HTTP/1.1"]
    head += [f"{name}: {value}" for name, value in request.headers.multi_items()]
    _, writer = await asyncio.open_connection(url.host, port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body[:sent])
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class ServiceProcess:
    """A TestOps process (``python -m <module>``) in a child process, answering HTTP on a
    free loopback port; see :func:`service_process`."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path, port: int) -> None:
        self.module = module
        self.env = env
        self.log_path = log_path
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def client(
        self, *, principal: Principal | None = TEST_PRINCIPAL, **options: Any
    ) -> httpx.AsyncClient:
        """A client of this process that signs ``principal`` into each request, as the gateway
        would (None: sends none); ``options`` go to :class:`httpx.AsyncClient`."""
        audience = self.module.removeprefix("testops_")
        options.setdefault("timeout", 30)
        return httpx.AsyncClient(
            base_url=self.url,
            trust_env=False,
            auth=PrincipalAuth(audience, principal) if principal else None,
            **options,
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_events(self) -> list[dict[str, Any]]:
        """The events logged so far, one JSON object a line (``log_format=json``); lines that
        are not one (a traceback's) are left out."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        events = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    async def start(self, *, ready_path: str = "/readyz", within: float = 60) -> None:
        """Start the process (again, after :meth:`stop`) and wait until ``ready_path`` is 200."""

        def spawn() -> subprocess.Popen[bytes]:
            with self.log_path.open("ab") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", self.module],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

        self.process = await asyncio.to_thread(spawn)
        process = self.process
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=2) as client:

            async def ready() -> bool | None:
                if process.poll() is not None:
                    raise RuntimeError(f"{self.module} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(ready_path)).status_code == 200:
                        return True
                return None

            await wait_for(ready, within=within, interval=0.1)

    async def stop(self) -> None:
        """TERM, then KILL after 15 s; waits until the process is gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 15)


@asynccontextmanager
async def service_process(
    module: str,
    *,
    prefix: str,
    folder: Path,
    settings: dict[str, str],
    port: int | None = None,
    ready_path: str = "/readyz",
) -> AsyncIterator[ServiceProcess]:
    """Run ``python -m <module>`` with ``<prefix><NAME>=value`` for each of ``settings`` (plus
    ``HOST``, ``PORT`` (``port``, else a free one), ``DATA_DIR`` = ``folder``, and the test
    signing key: its public half as ``PRINCIPAL_PUBLIC_KEY``, itself as a gateway's
    ``PRINCIPAL_PRIVATE_KEY``; the test executor key: itself as an executor's
    ``UPLOAD_SIGNING_KEY``, its public half as results' ``EXECUTOR_PUBLIC_KEY``), none of the
    caller's own ``<prefix>*`` variables, and its output in ``folder/<module>.log``; stopped on
    exit."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefix)}
    env.update({f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port)})
    env[f"{prefix}DATA_DIR"] = str(folder)
    # Services trust the test signing key (:class:`PrincipalAuth`), and a gateway signs with
    # it, unless told otherwise.
    env[f"{prefix}PRINCIPAL_PUBLIC_KEY"] = test_public_key()
    if prefix == "TESTOPS_GATEWAY_":
        env[f"{prefix}PRINCIPAL_PRIVATE_KEY"] = test_signing_key().decode()
    # The executor signs its uploads with the test executor key, and results trusts it.
    if prefix == "TESTOPS_EXECUTOR_":
        env[f"{prefix}UPLOAD_SIGNING_KEY"] = test_executor_signing_key().decode()
    if prefix == "TESTOPS_RESULTS_":
        env[f"{prefix}EXECUTOR_PUBLIC_KEY"] = test_executor_public_key()
    env.update({f"{prefix}{name.upper()}": value for name, value in settings.items()})
    service = ServiceProcess(module, env, folder / f"{module}.log", port)
    try:
        await service.start(ready_path=ready_path)
        yield service
    finally:
        await service.stop()
