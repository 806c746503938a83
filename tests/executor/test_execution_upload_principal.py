"""The upload to results carries a principal the executor signs for it: the execution, in its
project, allowed to write, addressed to results, signed afresh for each attempt."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from testops_executor.pipeline.runner import Job, Runner
from testops_executor.pipeline.uploads import upload_signer
from testops_executor.settings import ExecutorSettings
from testops_kit.principal import (
    EXECUTOR_ISSUER,
    HEADER,
    InvalidPrincipal,
    PrincipalVerifier,
    load_public_key,
)
from testops_kit.testing import principal_settings, upload_signing_settings
from testops_kit.testing import test_executor_public_key as executor_public_key


class Lines:
    """Stands for the execution's log."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)


async def no_phase(phase: str) -> None:
    return None


async def test_each_upload_attempt_carries_a_fresh_principal_of_the_execution_for_results(
    tmp_path: Path,
) -> None:
    settings = ExecutorSettings(
        data_dir=tmp_path, **principal_settings(), **upload_signing_settings()
    )
    seen: list[httpx.Request] = []

    def results_service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503)
        return httpx.Response(201, json={"id": 42})

    allure = tmp_path / "allure-results"
    allure.mkdir()
    (allure / "a-result.json").write_text('{"name": "test_x", "status": "passed"}')
    job = Job(
        id=str(uuid.uuid4()),
        repo_url="file:///repo.git",
        branch="main",
        suite_name="tests/",
        suite_params={},
        run_name="shop main",
        timeout_s=60,
        project="SHOP",
        created_by="alice",
    )
    transport = httpx.MockTransport(results_service)
    async with httpx.AsyncClient(transport=transport, base_url="http://results.test") as results:
        runner = Runner(
            settings=settings,
            results=results,
            set_phase=no_phase,
            signer=upload_signer(settings),
        )

        run_id = await runner._upload(job, tmp_path, allure, Lines(), 30)  # type: ignore[arg-type]

    assert run_id == 42
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/api/v1/runs")] * 2
    verifier = PrincipalVerifier(
        {EXECUTOR_ISSUER: load_public_key(executor_public_key().encode())}, audience="results"
    )
    tokens = [r.headers[HEADER] for r in seen]
    assert tokens[0] != tokens[1]
    for token in tokens:
        principal = verifier.verify(token)
        assert principal.issuer == EXECUTOR_ISSUER
        assert principal.subject == f"execution:{job.id}"
        assert principal.name == "alice"
        assert principal.project == "SHOP"
        assert principal.scopes == frozenset({"write"})
    for audience in ("catalog", "executor"):
        other = PrincipalVerifier(
            {EXECUTOR_ISSUER: load_public_key(executor_public_key().encode())}, audience=audience
        )
        with pytest.raises(InvalidPrincipal):
            other.verify(tokens[0])
