"""What a repository's code sees: an environment with nothing of the executor's settings or
secrets, HOME and TMPDIR in its workspace; the git credential header never in the log or the
execution."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from tests.executor.conftest import ExecutorSettingsFactory, StartExecutorProcess
from tests.executor.executor_api import API, assert_ended, log_text, run_to_end
from tests.executor.repositories import ENVIRONMENT_CANARY, Repos


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
