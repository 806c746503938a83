"""A build whose work folder cannot be made fails, and the worker goes on with the next one."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.results.reports_api import needs_allure_cli, tiny_results, wait_until_built
from tests.results.results_api import API, post_run_with

from testops_kit.testing import app_client
from testops_results.main import create_app

pytestmark = needs_allure_cli


async def test_a_build_without_a_work_folder_fails_and_the_next_build_runs(
    results_settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    # The factory makes a database with its own event loop on PostgreSQL: not on this one.
    settings = await asyncio.to_thread(
        results_settings_factory, "results-no-spool", spool_dir=spool
    )
    async with app_client(create_app(settings)) as client:
        run_id = (await post_run_with(client, tiny_results("passed"))).json()["id"]
        shutil.rmtree(spool)
        spool.write_text("a file where the spool folder should be\n")

        await client.post(f"{API}/runs/{run_id}/report")
        failed = await wait_until_built(client, run_id)

        spool.unlink()
        await client.post(f"{API}/runs/{run_id}/report")
        ready = await wait_until_built(client, run_id)

    assert failed["status"] == "failed", failed
    assert failed["code"] == "build_error"
    assert "FileExistsError" in failed["error"]
    assert ready["status"] == "ready", ready
