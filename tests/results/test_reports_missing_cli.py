"""Without the Allure CLI a build fails, and says how to install it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.results.reports_api import tiny_results, wait_until_built
from tests.results.results_api import API, post_run_with

from testops_kit.testing import app_client
from testops_results.main import create_app


@pytest.fixture(scope="module")
def no_cli_app(results_settings_factory: Callable[..., Any]) -> FastAPI:
    """A results app whose Allure CLI does not exist (a database is made outside the loop)."""
    return create_app(
        results_settings_factory("results-no-cli", allure_cli="/nonexistent/bin/allure")
    )


@pytest.fixture(scope="module")
async def no_cli_client(no_cli_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(no_cli_app) as client:
        yield client


async def test_a_build_without_the_allure_cli_fails_with_allure_cli_missing(
    no_cli_client: httpx.AsyncClient,
) -> None:
    created = await post_run_with(no_cli_client, tiny_results("passed"))
    run = created.json()

    queued = await no_cli_client.post(f"{API}/runs/{run['id']}/report")
    assert queued.status_code == 202, queued.text
    report = await wait_until_built(no_cli_client, run["id"])

    assert report["status"] == "failed"
    assert report["code"] == "allure_cli_missing"
    assert report["url"] is None
    assert "/nonexistent/bin/allure" in report["error"]
    assert "make allure" in report["error"]
    run_now = (await no_cli_client.get(f"{API}/runs/{run['id']}")).json()
    assert run_now["report"] == {"status": "failed", "url": None}
    files = await no_cli_client.get(f"{API}/runs/{run['id']}/report/index.html")
    assert files.status_code == 404

    again = await no_cli_client.post(f"{API}/runs/{run['id']}/report")
    assert again.status_code == 202
    assert again.json()["status"] in ("pending", "building", "failed")
