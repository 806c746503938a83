"""The deployment answers what its OpenAPI document says: schemathesis generates requests from
the gateway's merged document, valid and invalid, sends them with the pipeline's token, and
checks every answer (no server error, a documented status, content type, headers and body,
invalid requests refused, valid ones taken).

It runs in the PostgreSQL pass only, against a deployment of its own: the executions it queues
must not stand in the queue of the other end-to-end tests. That deployment's executor may clone
only from a host that never resolves (``fuzz_hooks.UNREACHABLE_REPOSITORY``), so nothing the
fuzzer makes up is ever fetched. What the fuzzer is told beyond the document, and why, is in
``schemathesis.toml`` and ``fuzz_hooks.py`` beside this file.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from tests.e2e.fuzz_hooks import UNREACHABLE_REPOSITORY
from tests.e2e.stack import API, Deployment, deploy

from testops_kit.testing import TEST_BUCKET, postgres_test_url

pytestmark = pytest.mark.skipif(
    postgres_test_url() is None,
    reason="the fuzz run is part of the PostgreSQL pass (TESTOPS_TEST_POSTGRES_URL)",
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 10
"""Test cases per operation and phase: the run takes about a minute on two busy cores."""
SEED = 1
"""A fixed seed: the same requests on every run (explore with other seeds by hand: README)."""
WITHIN_S = 300
"""Seconds the fuzz run may take on two busy cores before the test fails (it takes one or two)."""


@pytest.fixture(scope="module")
async def fuzzed(
    database_url_factory: Callable[[str], str],
    s3_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
) -> AsyncIterator[Deployment]:
    """A deployment of its own, on PostgreSQL and S3, whose executor clones from nowhere."""

    async def database_url(name: str) -> str:
        # The factory runs its own event loop on PostgreSQL: not on this one.
        return await asyncio.to_thread(database_url_factory, f"fuzz_{name}")

    def storage_settings(name: str) -> dict[str, str]:
        return {
            "storage_url": f"s3://{TEST_BUCKET}/fuzz-{name}-{uuid.uuid4().hex[:10]}",
            "s3_endpoint_url": s3_endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing-secret",
        }

    host = httpx.URL(UNREACHABLE_REPOSITORY).host
    async with deploy(
        database_url=database_url,
        storage_settings=storage_settings,
        storage="s3",
        folder=tmp_path_factory.mktemp,
        uv_cache_dir=uv_cache_dir,
        executor_settings={"allowed_repo_schemes": "https", "allowed_repo_hosts": host},
    ) as deployed:
        yield deployed


def fuzz_command(deployment: Deployment) -> list[str]:
    """The README's command, against ``deployment`` with the pipeline's token."""
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{deployment.url}{API}/openapi.json",
        "--header",
        f"Authorization: Bearer {deployment.tokens['ci']}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--no-color",
    ]


async def test_every_operation_answers_as_the_openapi_document_says(
    fuzzed: Deployment,
) -> None:
    async with fuzzed.client(None) as client:
        document = (await client.get(f"{API}/openapi.json")).json()
    operations = sum(
        method in ("get", "put", "post", "delete", "patch")
        for item in document["paths"].values()
        for method in item
    )

    fuzzer = await asyncio.create_subprocess_exec(
        *fuzz_command(fuzzed),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(WITHIN_S):
            output, _ = await fuzzer.communicate()
    finally:
        if fuzzer.returncode is None:
            fuzzer.kill()
            await fuzzer.wait()
    report = output.decode(errors="replace")

    assert fuzzer.returncode == 0, report[-20_000:]
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None, report[-5_000:]
    assert int(tested.group(1)) == operations, report[-5_000:]
