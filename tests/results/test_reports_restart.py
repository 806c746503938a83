"""A results process killed in the middle of a build: the build is tried once more by the next
process, then failed if that one dies too.

``python -m testops_results`` runs in a child process with ``ALLURE_CLI`` pointing at a wrapper
that, while a marker file exists, says it started and hangs; ``kill -9`` once it has started.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from tests.results.reports_api import ALLURE_CLI, needs_allure_cli, tiny_results, wait_until_built
from tests.results.results_api import API, post_run_with

from testops_kit.testing import ServiceProcess, free_port, principal_settings, wait_for

pytestmark = needs_allure_cli

PREFIX = "TESTOPS_RESULTS_"


class Deployment:
    """One database, storage and folder shared by the lives of the service."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.hang = folder / "hang"
        self.started = folder / "started"
        wrapper = folder / "allure"
        wrapper.write_text(
            "#!/bin/sh\n"
            f'if [ -e "{self.hang}" ]; then touch "{self.started}"; exec sleep 300; fi\n'
            f'exec "{ALLURE_CLI}" "$@"\n'
        )
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIX)}
        values = {
            **settings,
            **principal_settings(),
            "allure_cli": wrapper,
            "data_dir": folder / "data",
            "spool_dir": folder / "spool",
            "host": "127.0.0.1",
            "log_format": "json",
        }
        env.update({f"{PREFIX}{k.upper()}": str(v) for k, v in values.items()})
        self.env = env
        self.lives: list[ServiceProcess] = []

    async def start(self) -> ServiceProcess:
        port = free_port()
        env = {**self.env, f"{PREFIX}PORT": str(port)}
        life = ServiceProcess("testops_results", env, self.folder / "service.log", port)
        await life.start()
        self.lives.append(life)
        return life

    async def kill_when_building(self, life: ServiceProcess) -> None:
        async def started() -> bool | None:
            return True if self.started.exists() else None

        await wait_for(started, within=30, interval=0.05)
        assert life.process is not None
        life.process.kill()
        await asyncio.to_thread(life.process.wait, 30)
        self.started.unlink()


@pytest.fixture
def deployment_settings(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """A new database and storage (made outside the event loop)."""
    settings = {"database_url": database_url_factory("report-restart")}
    settings.update(storage_settings_factory("report-restart"))
    return settings


@pytest.fixture
async def deployment(
    deployment_settings: dict[str, Any], tmp_path: Path
) -> AsyncIterator[Deployment]:
    deployment = Deployment(tmp_path, deployment_settings)
    try:
        yield deployment
    finally:
        for life in deployment.lives:
            await life.stop()


async def queue_hanging_build(deployment: Deployment) -> tuple[ServiceProcess, int]:
    deployment.hang.touch()
    first = await deployment.start()
    async with first.client() as client:
        created = await post_run_with(client, tiny_results("passed"), build_report="true")
        assert created.status_code == 201, created.text
    await deployment.kill_when_building(first)
    return first, created.json()["id"]


async def test_a_build_cut_short_by_a_restart_is_tried_again(deployment: Deployment) -> None:
    _, run_id = await queue_hanging_build(deployment)
    deployment.hang.unlink()

    second = await deployment.start()
    async with second.client() as client:
        report = await wait_until_built(client, run_id)
        assert report["status"] == "ready", report
        index = await client.get(f"{API}/runs/{run_id}/report/index.html")
        assert index.status_code == 200

    async def work_folders_gone() -> bool | None:
        return not list((deployment.folder / "spool").glob("testops-report-*")) or None

    await wait_for(work_folders_gone, within=10)  # the new build's is removed after `ready`


async def test_a_build_cut_short_twice_fails_as_lost(deployment: Deployment) -> None:
    _, run_id = await queue_hanging_build(deployment)
    second = await deployment.start()
    await deployment.kill_when_building(second)
    deployment.hang.unlink()

    third = await deployment.start()
    async with third.client() as client:
        report = await wait_until_built(client, run_id)
    assert report["status"] == "failed"
    assert report["code"] == "build_lost"
