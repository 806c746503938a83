"""The `testops-gateway` command, run as a child process: `create-token` prints a token once
and the line that configures it; `serve` refuses settings that would make an unsafe gateway."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.gateway.conftest import StartGateway, bearer

from testops_kit.testing import assert_problem, free_port

API = "/api/v1"
PREFIX = "TESTOPS_GATEWAY_"
TOKEN = re.compile(r"^\s+(tst_[A-Za-z0-9_-]{43})$", re.MULTILINE)
"""The printed token: the prefix and 256 random bits, URL-safe base64."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def gateway_command(
    *args: str, cwd: Path, settings: dict[str, str] | None = None, within: float = 30
) -> Finished:
    """Run ``python -m testops_gateway <args>`` with ``TESTOPS_GATEWAY_<NAME>`` for each of
    ``settings`` and none of the caller's own gateway settings; killed after ``within`` s."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIX)}
    env.update({f"{PREFIX}{name.upper()}": value for name, value in (settings or {}).items()})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testops_gateway",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


def config_line(stdout: str, name: str, scopes: str) -> re.Match[str]:
    line = re.search(
        rf"^\s+({re.escape(name)}:{re.escape(scopes)}:sha256:([0-9a-f]{{64}}))$",
        stdout,
        re.MULTILINE,
    )
    assert line is not None, stdout
    return line


@dataclass(frozen=True)
class CreatedToken:
    token: str
    line: str
    digest: str


@pytest.fixture(scope="module")
async def created(tmp_path_factory: pytest.TempPathFactory) -> CreatedToken:
    """What `create-token --name ci --scopes read,write,execute` printed."""
    finished = await gateway_command(
        "create-token",
        "--name",
        "ci",
        "--scopes",
        "read,write,execute",
        cwd=tmp_path_factory.mktemp("create-token"),
    )
    assert finished.returncode == 0, finished.stderr
    token = TOKEN.search(finished.stdout)
    assert token is not None, finished.stdout
    line = config_line(finished.stdout, "ci", "read,write,execute")
    return CreatedToken(token=token[1], line=line[1], digest=line[2])


async def test_create_token_prints_a_token_and_the_line_with_its_hash(
    created: CreatedToken,
) -> None:
    assert created.digest == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in created.line
    assert created.token.removeprefix("tst_") not in created.line


async def test_each_created_token_is_new(tmp_path: Path) -> None:
    first, second = await asyncio.gather(
        gateway_command("create-token", "--name", "ci", cwd=tmp_path),
        gateway_command("create-token", "--name", "ci", cwd=tmp_path),
    )

    first_token, second_token = TOKEN.search(first.stdout), TOKEN.search(second.stdout)
    assert first_token is not None
    assert second_token is not None
    assert first_token[1] != second_token[1]
    # Without --scopes a token may only read.
    config_line(first.stdout, "ci", "read")


async def test_a_gateway_configured_with_the_printed_line_accepts_the_printed_token(
    start_gateway: StartGateway, created: CreatedToken
) -> None:
    async with start_gateway(tokens=created.line) as gateway:
        listed = await gateway.get(f"{API}/test-cases", headers=bearer(created.token))
        executed = await gateway.post(
            f"{API}/executions",
            json={"repo_url": "ext::sh -c true", "suite": {"name": "tests/"}},
            headers=bearer(created.token),
        )

    assert listed.status_code == 200, listed.text
    # Past the gateway's scope check: the executor itself refused the URL.
    assert_problem(executed, 422, "repo_not_allowed")


async def test_create_token_with_an_unknown_scope_exits_2_naming_it(tmp_path: Path) -> None:
    finished = await gateway_command(
        "create-token", "--name", "ci", "--scopes", "read,bogus", cwd=tmp_path
    )

    assert finished.returncode == 2
    assert "unknown: bogus" in finished.stderr
    assert "tst_" not in finished.stdout


@pytest.mark.parametrize("name", ["has space", "a:b", "semi;colon"])
async def test_create_token_with_a_name_a_line_cannot_hold_exits_2(
    tmp_path: Path, name: str
) -> None:
    finished = await gateway_command("create-token", "--name", name, cwd=tmp_path)

    assert finished.returncode == 2
    assert "--name" in finished.stderr
    assert "tst_" not in finished.stdout


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(".ci", id="leading-dot"),
        pytest.param("_ci", id="leading-underscore"),
        pytest.param("café", id="non-ascii"),
        pytest.param("c" * 65, id="65-characters"),
    ],
)
async def test_create_token_never_prints_a_line_the_gateway_refuses(
    tmp_path: Path, name: str
) -> None:
    finished = await gateway_command("create-token", "--name", name, cwd=tmp_path)

    assert finished.returncode == 2, finished.stdout


async def test_serve_with_auth_disabled_on_a_public_address_refuses_to_start(
    tmp_path: Path,
) -> None:
    finished = await gateway_command(
        "serve",
        cwd=tmp_path,
        settings={"host": "0.0.0.0", "port": str(free_port()), "auth_disabled": "true"},
    )

    assert finished.returncode == 2
    assert "refusing to start" in finished.stderr
    assert "loopback" in finished.stderr


async def test_serve_with_an_invalid_token_line_refuses_to_start(tmp_path: Path) -> None:
    finished = await gateway_command(
        "serve",
        cwd=tmp_path,
        settings={"port": str(free_port()), "tokens": f"ci:read,bogus:sha256:{'ab' * 32}"},
    )

    assert finished.returncode == 2
    assert "refusing to start" in finished.stderr
    assert "unknown: bogus" in finished.stderr
