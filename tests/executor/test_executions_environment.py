"""What a repository's code sees: an environment with nothing of the executor's settings or
secrets, HOME and TMPDIR in its workspace; the git credential header never in the log or the
execution; the executor's upload key nowhere it can find it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from tests.executor.conftest import ExecutorSettingsFactory, StartExecutor, StartExecutorProcess
from tests.executor.executor_api import API, assert_ended, get_run, log_text, run_to_end
from tests.executor.repositories import ENVIRONMENT_CANARY, Repos

from testops_kit.testing import upload_signing_settings


async def test_the_suite_runs_in_a_clean_environment(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    execution = await run_to_end(client, repos.environment)

    await assert_ended(client, execution, "completed", "passed")


async def test_the_executor_processes_settings_and_secrets_never_reach_the_suite_or_the_log(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
) -> None:
    settings = await executor_settings(
        "secrets", git_http_header=SecretStr(f"Authorization: Bearer {ENVIRONMENT_CANARY}-git")
    )
    service = await start_executor_process(
        settings, AWS_SECRET_ACCESS_KEY=f"{ENVIRONMENT_CANARY}-aws"
    )
    client = service.client

    execution = await run_to_end(client, repos.environment)

    await assert_ended(client, execution, "completed", "passed")
    assert ENVIRONMENT_CANARY not in await log_text(client, execution["id"])
    listed = await client.get(f"{API}/executions")
    assert ENVIRONMENT_CANARY not in listed.text
    assert ENVIRONMENT_CANARY not in service.log.read_text()


async def test_an_executor_without_uv_on_its_path_fails_the_execution_saying_so(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    repos: Repos,
    tmp_path: Path,
) -> None:
    tools = tmp_path / "only-git"
    tools.mkdir()
    git = shutil.which("git")
    assert git is not None
    (tools / "git").symlink_to(git)
    settings = await executor_settings("no-uv")
    service = await start_executor_process(settings, PATH=str(tools))

    execution = await run_to_end(service.client, repos.passing)

    await assert_ended(service.client, execution, "failed", "error", "sync_failed")
    assert "`uv` cannot be run on the executor" in execution["error"]
    assert "install it on the executor's PATH" in await log_text(service.client, execution["id"])


async def test_a_repository_without_a_pytest_configuration_takes_none_from_around_the_workspace(
    start_executor: StartExecutor, repos: Repos, tmp_path: Path
) -> None:
    """An executor whose workspace is inside another project (``make run`` in a checkout of
    TestOps keeps it under ./.testops): pytest must not climb out of the repository and take
    that project's configuration."""
    around = tmp_path / "another-project"
    around.mkdir()
    (around / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no_such_plugin_of_the_host"\n'
    )

    async with start_executor("inside-a-project", workspace_dir=around / "work") as executor:
        execution = await run_to_end(executor.client, repos.passing)
        await assert_ended(executor.client, execution, "completed", "passed")
        log = await log_text(executor.client, execution["id"])

    assert "no_such_plugin_of_the_host" not in log
    assert re.search(rf"rootdir: {re.escape(str(around / 'work'))}/\S+/checkout\n", log), log


def pem_body(pem: str) -> str:
    """The key's base64 line: what any copy of the key holds, however it is framed."""
    return "".join(pem.strip().splitlines()[1:-1])


@pytest.mark.parametrize("given_as", ["setting", "file"])
async def test_the_executors_upload_key_is_nowhere_the_suite_can_find_it(
    executor_settings: ExecutorSettingsFactory,
    start_executor_process: StartExecutorProcess,
    results: httpx.AsyncClient,
    repos: Repos,
    tmp_path: Path,
    given_as: str,
) -> None:
    pem = upload_signing_settings()["upload_signing_key"]
    key_file = tmp_path / "secrets" / "executor.pem"
    if given_as == "setting":
        settings = await executor_settings("upload-key-setting")
    else:
        key_file.parent.mkdir()
        key_file.write_text(pem)
        settings = await executor_settings(
            "upload-key-file", upload_signing_key=None, upload_signing_key_file=key_file
        )
    service = await start_executor_process(settings)

    execution = await run_to_end(service.client, repos.peeking, params={"s": True})

    await assert_ended(service.client, execution, "completed", "passed")
    log = await log_text(service.client, execution["id"])
    assert "peeked" in log
    assert "env HOME=" in log
    assert "setting TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY=None" in log
    assert "setting TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY_FILE=None" in log
    assert pem_body(pem) not in log
    assert "PRIVATE KEY" not in log
    assert str(key_file) not in log
    # The key did its work all the same: the run was uploaded with it.
    run = await get_run(results, execution["run_id"])
    assert run["execution_id"] == execution["id"]
    assert pem_body(pem) not in service.log.read_text()
