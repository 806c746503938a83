"""A run's ready report stays served while its next build is queued or building, and after that
build fails; it gives way when a newer build is ready, and its files go then.

The Allure CLI is the real one behind a wrapper that holds a build while a marker file exists
and fails it while another does, so the test sees each state for as long as it needs.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from tests.results.reports_api import (
    ALLURE_CLI,
    needs_allure_cli,
    report_of,
    tiny_results,
    wait_until_built,
)
from tests.results.results_api import API, JSON, post_run_with

from testops_kit.testing import app_client, wait_for
from testops_results.main import create_app

pytestmark = needs_allure_cli


class HeldCli:
    """The real CLI behind a wrapper: ``hold`` keeps a build building, ``fail`` fails it."""

    def __init__(self, folder: Path) -> None:
        self.hold = folder / "hold"
        self.fail = folder / "fail"
        self.started = folder / "started"
        self.path = folder / "allure"
        self.path.write_text(
            "#!/bin/sh\n"
            f'if [ -e "{self.hold}" ]; then\n'
            f'  touch "{self.started}"\n'
            f'  while [ -e "{self.hold}" ]; do sleep 0.05; done\n'
            "fi\n"
            f'if [ -e "{self.fail}" ]; then echo "no report today" >&2; exit 3; fi\n'
            f'exec "{ALLURE_CLI}" "$@"\n'
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)

    async def wait_started(self) -> None:
        async def started() -> bool | None:
            return True if self.started.exists() else None

        await wait_for(started, within=30, interval=0.05)
        self.started.unlink()


async def total_served(client: httpx.AsyncClient, run_id: int) -> int:
    """How many tests the served report counts."""
    response = await client.get(f"{API}/runs/{run_id}/report/widgets/statistic.json")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def build_keys(app: FastAPI, run_id: int) -> set[str]:
    keys = [info.key async for info in app.state.storage.list(f"reports/{run_id}/")]
    return {key.split("/")[2] for key in keys}


async def add_failed_test(client: httpx.AsyncClient, run_id: int, prefix: str) -> None:
    files = [
        ("files", (n, d, "application/octet-stream"))
        for n, d in tiny_results("failed", prefix=prefix)
    ]
    shard = await client.post(f"{API}/runs/{run_id}/files", files=files)
    assert shard.status_code == 200, shard.text


async def app_on(cli: HeldCli, settings_factory: Callable[..., Any], name: str) -> FastAPI:
    """A results app building with ``cli`` (the factory makes a database with its own event
    loop on PostgreSQL: not on this one)."""
    settings = await asyncio.to_thread(settings_factory, name, allure_cli=str(cli.path))
    return create_app(settings)


async def run_with_a_build(client: httpx.AsyncClient) -> tuple[int, JSON]:
    """A new run of one passed test, and its first build once ended."""
    run_id: int = (await post_run_with(client, tiny_results("passed"))).json()["id"]
    await client.post(f"{API}/runs/{run_id}/report")
    return run_id, await wait_until_built(client, run_id)


async def test_the_ready_report_is_served_until_a_newer_build_is_ready(
    results_settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    cli = HeldCli(tmp_path)
    app = await app_on(cli, results_settings_factory, "results-rebuild")
    async with app_client(app) as client:
        run_id, first = await run_with_a_build(client)
        assert first["status"] == "ready", first
        url = first["url"]
        [first_key] = await build_keys(app, run_id)
        assert await total_served(client, run_id) == 1

        # The run gains a test; its next build is held while building.
        await add_failed_test(client, run_id, "second")
        cli.hold.touch()
        queued = await client.post(f"{API}/runs/{run_id}/report")
        assert queued.status_code == 202, queued.text
        await cli.wait_started()
        building = await report_of(client, run_id)
        assert building == {"status": "building", "url": url, "error": None, "code": None}
        run = (await client.get(f"{API}/runs/{run_id}")).json()
        assert run["report"] == {"status": "building", "url": url}
        assert await total_served(client, run_id) == 1
        index = await client.get(url)
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")

        # That build fails: the earlier report is still the one served, its files kept.
        cli.fail.touch()
        cli.hold.unlink()
        failed = await wait_until_built(client, run_id)
        assert failed["status"] == "failed", failed
        assert failed["code"] == "allure_cli_failed"
        assert "no report today" in failed["error"]
        assert failed["url"] == url
        assert await total_served(client, run_id) == 1
        assert await build_keys(app, run_id) == {first_key}

        # Asked again, it is built and served in place of the first, whose files go.
        cli.fail.unlink()
        again = await client.post(f"{API}/runs/{run_id}/report")
        assert again.status_code == 202, again.text
        ready = await wait_until_built(client, run_id)
        assert ready == {"status": "ready", "url": url, "error": None, "code": None}
        assert await total_served(client, run_id) == 2

        async def only_the_new_build_kept() -> set[str] | None:
            keys = await build_keys(app, run_id)
            return keys if first_key not in keys else None

        assert len(await wait_for(only_the_new_build_kept, within=10)) == 1


async def test_a_run_whose_first_build_fails_serves_no_report(
    results_settings_factory: Callable[..., Any], tmp_path: Path
) -> None:
    cli = HeldCli(tmp_path)
    cli.fail.touch()
    app = await app_on(cli, results_settings_factory, "results-first-fails")
    async with app_client(app) as client:
        run_id, failed = await run_with_a_build(client)
        index = await client.get(f"{API}/runs/{run_id}/report/index.html")

    assert failed["status"] == "failed", failed
    assert failed["url"] is None
    assert index.status_code == 404
    assert index.json()["code"] == "report_file_not_found"
