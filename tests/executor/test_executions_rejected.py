"""POST /executions with what must never be cloned or run: 422 before anything is queued, and
nothing written outside a workspace."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.deep_bodies import DEPTHS, assert_too_deep, send_quietly, with_nested
from tests.executor.conftest import StartExecutor
from tests.executor.executor_api import API, JSON, execution_body, wait_finished
from tests.executor.repositories import Repos

from testops_kit.testing import assert_problem

PWNED = Path("/tmp/pwned")


@pytest.fixture(autouse=True)
def nothing_is_written_to_tmp_pwned() -> Iterator[None]:
    """What the hostile requests try to create must not exist after them."""
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists()


@pytest.fixture
async def https_only(start_executor: StartExecutor) -> AsyncIterator[httpx.AsyncClient]:
    """An executor with the default schemes (https only) and one allowed host."""
    async with start_executor(
        "https-only", allowed_repo_schemes=["https"], allowed_repo_hosts=["git.example.invalid"]
    ) as executor:
        yield executor.client


def remove(path: Path) -> bool:
    """Remove ``path`` (a file or a folder); whether it was there."""
    if path.is_dir():
        shutil.rmtree(path)
        return True
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


async def post(client: httpx.AsyncClient, body: JSON) -> httpx.Response:
    return await client.post(f"{API}/executions", json=body)


async def assert_queue_empty(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/executions")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "repo_url",
    [
        pytest.param("ext::sh -c touch% /tmp/pwned", id="ext-transport"),
        pytest.param("EXT::sh -c touch% /tmp/pwned", id="ext-transport-upper-case"),
        pytest.param("fd::17", id="fd-transport"),
        pytest.param("git@git.example.invalid:team/app.git", id="scp-like-ssh"),
        pytest.param("ssh://git.example.invalid/team/app.git", id="ssh"),
        pytest.param("/tmp/some/repo.git", id="bare-path"),
        pytest.param("--upload-pack=touch /tmp/pwned", id="option"),
        pytest.param("file://remote-host/tmp/repo.git", id="file-url-with-a-host"),
    ],
)
async def test_a_repository_url_outside_the_allowed_schemes_is_repo_not_allowed(
    client: httpx.AsyncClient, repos: Repos, repo_url: str
) -> None:
    response = await post(client, {**execution_body(repos.passing), "repo_url": repo_url})

    body = assert_problem(response, 422, "repo_not_allowed")
    assert body["errors"][0]["loc"] == ["body", "repo_url"]
    await assert_queue_empty(client)


async def test_a_file_url_is_repo_not_allowed_where_only_https_is_allowed(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    response = await post(https_only, execution_body(repos.passing))

    assert_problem(response, 422, "repo_not_allowed")
    await assert_queue_empty(https_only)


async def test_a_refused_file_url_names_the_setting_that_would_allow_it(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    problem = assert_problem(
        await post(https_only, execution_body(repos.passing)), 422, "repo_not_allowed"
    )

    assert "TESTOPS_EXECUTOR_ALLOWED_REPO_SCHEMES=https,file" in problem["detail"]


async def test_a_bare_path_is_told_to_be_written_as_a_file_url(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    body = {**execution_body(repos.passing), "repo_url": repos.passing.url.removeprefix("file://")}

    problem = assert_problem(await post(https_only, body), 422, "repo_not_allowed")

    assert "file:///" in problem["detail"]
    assert "TESTOPS_EXECUTOR_ALLOWED_REPO_SCHEMES=https,file" in problem["detail"]
    assert "(none)" not in problem["detail"]


async def test_a_host_outside_the_allowed_hosts_names_the_setting_that_would_allow_it(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    body = {**execution_body(repos.passing), "repo_url": "https://evil.example.org/team/app.git"}

    problem = assert_problem(await post(https_only, body), 422, "repo_not_allowed")

    assert (
        "TESTOPS_EXECUTOR_ALLOWED_REPO_HOSTS=git.example.invalid,evil.example.org"
        in problem["detail"]
    )


async def test_an_http_url_is_repo_not_allowed_where_only_https_is_allowed(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    body = {**execution_body(repos.passing), "repo_url": "http://git.example.invalid/team/app.git"}

    assert_problem(await post(https_only, body), 422, "repo_not_allowed")


async def test_a_host_outside_the_allowed_hosts_is_repo_not_allowed(
    https_only: httpx.AsyncClient, repos: Repos
) -> None:
    body = {**execution_body(repos.passing), "repo_url": "https://evil.example.org/team/app.git"}

    assert_problem(await post(https_only, body), 422, "repo_not_allowed")
    await assert_queue_empty(https_only)


async def test_an_allowed_host_is_accepted(https_only: httpx.AsyncClient, repos: Repos) -> None:
    body = {**execution_body(repos.passing), "repo_url": "https://GIT.example.invalid/team/app.git"}

    response = await post(https_only, body)

    assert response.status_code == 202, response.text
    # Nothing answers for that host: the queued execution is cancelled (or has failed to clone).
    cancel = await https_only.post(f"{API}/executions/{response.json()['id']}/cancel")
    assert cancel.status_code in (202, 409), cancel.text
    await wait_finished(https_only, response.json()["id"])


async def test_credentials_in_the_url_are_repo_not_allowed(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    body = {
        **execution_body(repos.passing),
        "repo_url": "https://user:s3cret@git.example.invalid/team/app.git",
    }

    response = await post(client, body)

    problem = assert_problem(response, 422, "repo_not_allowed")
    assert "s3cret" not in response.text, problem
    await assert_queue_empty(client)


async def test_a_token_as_the_url_user_name_is_repo_not_allowed(
    client: httpx.AsyncClient, repos: Repos
) -> None:
    body = {
        **execution_body(repos.passing),
        "repo_url": "https://ghp_s3cretToken@git.example.invalid/team/app.git",
    }

    response = await post(client, body)

    try:
        assert_problem(response, 422, "repo_not_allowed")
    finally:
        if response.status_code == 202:
            await client.post(f"{API}/executions/{response.json()['id']}/cancel")
            await wait_finished(client, response.json()["id"])


@pytest.mark.parametrize(
    "branch",
    [
        pytest.param("--upload-pack=touch /tmp/pwned", id="option"),
        pytest.param("-b", id="short-option"),
        pytest.param("a..b", id="double-dot"),
        pytest.param("main~1", id="tilde"),
        pytest.param("feature branch", id="space"),
        pytest.param("refs/../main", id="dot-dot-component"),
        pytest.param("main.lock", id="lock-suffix"),
        pytest.param("", id="empty"),
        pytest.param("  ", id="blank"),
    ],
)
async def test_a_branch_git_would_not_take_as_a_branch_name_is_rejected(
    client: httpx.AsyncClient, repos: Repos, branch: str
) -> None:
    response = await post(client, execution_body(repos.passing, branch=branch))

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][:2] == ["body", "branch"] for error in body["errors"]), body
    await assert_queue_empty(client)


@pytest.mark.parametrize(
    "suite",
    [
        pytest.param("../../etc", id="parent"),
        pytest.param("tests/../../etc", id="parent-inside"),
        pytest.param("/etc", id="absolute"),
        pytest.param("-x", id="option"),
        pytest.param("--rootdir=/", id="long-option"),
        pytest.param("../outside.py::test_x", id="parent-with-node-id"),
    ],
)
async def test_a_suite_name_that_is_an_option_or_leaves_the_checkout_is_rejected(
    client: httpx.AsyncClient, repos: Repos, suite: str
) -> None:
    response = await post(client, execution_body(repos.passing, suite=suite))

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][:2] == ["body", "suite"] for error in body["errors"]), body
    await assert_queue_empty(client)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"k; rm -rf /": "x"}, id="key-with-shell"),
        pytest.param({"-k": "login"}, id="key-is-an-option"),
        pytest.param({"k": "-x"}, id="value-is-an-option"),
        pytest.param({"k": ["login", "-p"]}, id="list-value-is-an-option"),
        pytest.param({"k": {"nested": 1}}, id="object-value"),
        pytest.param({"k": None}, id="null-value"),
        pytest.param({"k": [["login"]]}, id="nested-list-value"),
        pytest.param({"k": "x" * 1025}, id="1025-character-value"),
        pytest.param({"deselect": [f"tests/test_{n}.py" for n in range(101)]}, id="101-values"),
        pytest.param({"maxfail": 2**63}, id="integer-beyond-64-bits"),
        pytest.param({"k": "login\u0000"}, id="nul-in-value"),
    ],
)
async def test_params_that_are_not_plain_pytest_options_are_rejected(
    client: httpx.AsyncClient, repos: Repos, params: dict[str, Any]
) -> None:
    response = await post(client, execution_body(repos.passing, params=params))

    assert_problem(response, 422, "validation_error")
    await assert_queue_empty(client)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"shell": "touch /tmp/pwned"}, id="unknown-field"),
        pytest.param({"timeout_s": 0}, id="zero-timeout"),
        pytest.param({"timeout_s": 10**9}, id="timeout-above-the-maximum"),
        pytest.param({"run_name": ""}, id="empty-run-name"),
        pytest.param({"run_name": "nul\u0000name"}, id="nul-in-run-name"),
        pytest.param({"timeout_s": 2**31}, id="timeout-beyond-int32"),
    ],
)
async def test_a_body_with_unknown_or_out_of_range_fields_is_rejected(
    client: httpx.AsyncClient, repos: Repos, extra: JSON
) -> None:
    response = await post(client, execution_body(repos.passing, **extra))

    assert_problem(response, 422, "validation_error")
    await assert_queue_empty(client)


async def test_an_unknown_suite_field_is_rejected(client: httpx.AsyncClient, repos: Repos) -> None:
    body = execution_body(repos.passing)
    body["suite"]["command"] = "touch /tmp/pwned"

    assert_problem(await post(client, body), 422, "validation_error")


async def test_a_missing_suite_is_rejected(client: httpx.AsyncClient, repos: Repos) -> None:
    body = execution_body(repos.passing)
    del body["suite"]

    assert_problem(await post(client, body), 422, "validation_error")


@pytest.mark.parametrize(
    "option",
    [
        pytest.param("junitxml", id="junitxml"),
        pytest.param("alluredir", id="alluredir"),
    ],
)
async def test_params_that_write_outside_the_checkout_are_rejected(
    client: httpx.AsyncClient, repos: Repos, option: str
) -> None:
    # A path of this test's own (not /tmp/pwned): another session may be running these tests.
    target = Path(f"/tmp/pwned-{uuid.uuid4().hex[:8]}")
    params = {option: str(target)}

    response = await post(client, execution_body(repos.passing, params=params))

    if response.status_code == 202:
        await wait_finished(client, response.json()["id"])
        written = await asyncio.to_thread(remove, target)
        assert not written, f"{params} wrote {target}"
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    "where",
    [
        pytest.param(("suite", "params", "k"), id="param-value"),
        pytest.param(("suite", "params", "deselect"), id="param-list"),
        pytest.param(("suite", "name"), id="suite-name"),
        pytest.param(("repo_url",), id="repo-url"),
        pytest.param(("run_name",), id="run-name"),
    ],
)
async def test_json_nested_past_the_limit_in_any_field_is_refused_and_queues_nothing(
    client: httpx.AsyncClient, repos: Repos, where: tuple[str, ...], depth: int
) -> None:
    body = execution_body(repos.passing, params={"k": "login"})
    parent = body
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = "NESTED"

    response = await send_quietly(client, "POST", f"{API}/executions", with_nested(body, depth))

    assert_too_deep(response)
    await assert_queue_empty(client)
