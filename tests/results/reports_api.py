"""What the report tests share: tiny allure-results, the Allure CLI check, and waiting for a
build to end."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
import pytest
from tests.results.results_api import API, JSON

from testops_kit.testing import wait_for
from testops_results.reports.builder import find_allure_cli

ALLURE_CLI = find_allure_cli(None)
"""The CLI ``make allure`` installed (or ``allure`` on PATH); None when there is none."""

needs_allure_cli = pytest.mark.skipif(
    ALLURE_CLI is None and not os.environ.get("TESTOPS_TEST_ALLURE_REQUIRED"),
    reason="the Allure 3 CLI is not installed: `make allure` installs it (CI runs it first)",
)

BUILD_WITHIN_S = 60


def result_file(name: str, status: str, *, message: str | None = None) -> tuple[str, bytes]:
    """A ``*-result.json`` of the test ``name`` (its full name is its identity across runs)."""
    result_uuid = str(uuid.uuid4())
    document: dict[str, Any] = {
        "uuid": result_uuid,
        "name": name,
        "fullName": f"tests.test_app#{name}",
        "status": status,
        "start": 1_700_000_000_000,
        "stop": 1_700_000_000_500,
        "labels": [{"name": "suite", "value": "app"}],
        "parameters": [],
        "attachments": [{"name": "log", "source": f"{result_uuid}-attachment.txt"}],
    }
    if message:
        document["statusDetails"] = {"message": message, "trace": "Traceback: boom"}
    return f"{result_uuid}-result.json", json.dumps(document).encode()


def tiny_results(*statuses: str, prefix: str = "test") -> list[tuple[str, bytes]]:
    """One result per status (``test_0``, ``test_1``, …), each with a small attachment."""
    files = []
    for number, status in enumerate(statuses):
        name, data = result_file(f"{prefix}_{number}", status, message=f"failed {number}")
        files.append((name, data))
        source = json.loads(data)["attachments"][0]["source"]
        files.append((source, f"log of test_{number}\n".encode()))
    return files


async def report_of(client: httpx.AsyncClient, run_id: int, *, api: str = API) -> JSON:
    response = await client.get(f"{api}/runs/{run_id}/report")
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def wait_until_built(client: httpx.AsyncClient, run_id: int, *, api: str = API) -> JSON:
    """The report's state once its build has ended (``ready`` or ``failed``), read under
    ``api`` (``/api/v1`` or ``/api/v1/projects/{key}``)."""

    async def ended() -> JSON | None:
        report = await report_of(client, run_id, api=api)
        return report if report["status"] in ("ready", "failed") else None

    return await wait_for(ended, within=BUILD_WITHIN_S, interval=0.1)
