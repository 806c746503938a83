"""`testops-gateway migrate` and `testops-gateway create-user`, run as child processes: the
first admin of a new gateway, who then signs in through it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.gateway.conftest import StartGateway
from tests.gateway.identity import API, browser, sign_in
from tests.gateway.test_cli import PREFIX, Finished, gateway_command

from testops_gateway.models import Project
from testops_kit.database import Database

PASSWORD_LINE = re.compile(r"^\s+([A-Za-z0-9_-]{24})$", re.MULTILINE)


@pytest.fixture
def database_url(database_url_factory: Callable[[str], str]) -> str:
    return database_url_factory("gateway_cli")


async def create_user(
    *args: str, database_url: str, cwd: Path, stdin: str | None = None
) -> Finished:
    """``python -m testops_gateway create-user <args>`` on ``database_url``, fed ``stdin``."""
    if stdin is None:
        return await gateway_command(
            "create-user", *args, cwd=cwd, settings={"database_url": database_url}
        )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIX)}
    env[f"{PREFIX}DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "testops_gateway",
        "create-user",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def test_migrate_makes_the_database_with_the_default_project(
    database_url: str, tmp_path: Path
) -> None:
    finished = await gateway_command(
        "migrate", cwd=tmp_path, settings={"database_url": database_url}
    )

    assert finished.returncode == 0, finished.stderr
    database = Database(database_url)
    try:
        async with database.session() as session:
            keys = (await session.scalars(select(Project.key))).all()
    finally:
        await database.dispose()
    assert keys == ["DEFAULT"]


async def test_create_user_makes_an_admin_with_a_password_shown_once_who_can_sign_in(
    start_gateway: StartGateway, database_url: str, tmp_path: Path
) -> None:
    finished = await create_user("--admin", "First.Admin", database_url=database_url, cwd=tmp_path)

    assert finished.returncode == 0, finished.stderr
    assert "'first.admin' (an instance admin" in finished.stdout
    password = PASSWORD_LINE.search(finished.stdout)
    assert password is not None, finished.stdout
    async with (
        start_gateway(database_url=database_url, tokens=None) as gateway,
        browser(gateway) as client,
    ):
        await sign_in(client, "first.admin", password[1])
        me = (await client.get(f"{API}/me")).json()
        users = await client.get(f"{API}/users")

    assert (me["username"], me["instance_role"], me["kind"]) == ("first.admin", "admin", "human")
    assert users.status_code == 200, users.text


async def test_create_user_reads_the_password_from_stdin_and_prints_none(
    start_gateway: StartGateway, database_url: str, tmp_path: Path
) -> None:
    finished = await create_user(
        "--password-stdin",
        "reader",
        database_url=database_url,
        cwd=tmp_path,
        stdin="a password of my own\n",
    )

    assert finished.returncode == 0, finished.stderr
    assert "a password of my own" not in finished.stdout
    assert PASSWORD_LINE.search(finished.stdout) is None
    async with start_gateway(database_url=database_url) as gateway, browser(gateway) as client:
        await sign_in(client, "reader", "a password of my own")
        me = (await client.get(f"{API}/me")).json()
    assert me["instance_role"] == "user"


async def test_create_user_refuses_a_name_taken_already(database_url: str, tmp_path: Path) -> None:
    first = await create_user("taken", database_url=database_url, cwd=tmp_path)
    second = await create_user("TAKEN", database_url=database_url, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert "exists already" in second.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        pytest.param(("has space",), None, "a username is", id="bad-username"),
        pytest.param(("--password-stdin", "shorty"), "short\n", "the password must", id="short"),
    ],
)
async def test_create_user_refuses_a_bad_name_or_password(
    database_url: str, tmp_path: Path, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    finished = await create_user(*args, database_url=database_url, cwd=tmp_path, stdin=stdin)

    assert finished.returncode == 2
    assert message in finished.stderr
