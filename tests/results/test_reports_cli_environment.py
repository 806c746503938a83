"""The Allure CLI is another program: it runs without the service's settings and secrets, with
its analytics off; and the report pages it makes may load nothing from elsewhere."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.results.reports_api import tiny_results, wait_until_built
from tests.results.results_api import API, post_run_with

from testops_kit.testing import app_client
from testops_results.main import create_app


def environment_dumping_cli(folder: Path) -> Path:
    """A stand-in for the CLI that writes its environment next to itself and makes a one-page
    report, so the build ends ready."""
    script = folder / "allure"
    dump = folder / "environment.txt"
    script.write_text(
        "#!/bin/sh\n"
        f"env > {dump}\n"
        'while [ "$#" -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done\n'
        'mkdir -p "$out" && echo "<html>report</html>" > "$out/index.html"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_the_cli_gets_none_of_the_services_settings_and_no_analytics(
    results_settings_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = environment_dumping_cli(tmp_path)
    monkeypatch.setenv("TESTOPS_RESULTS_S3_SECRET_ACCESS_KEY", "do-not-pass-me")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nor-me")
    # The factory makes a database with its own event loop on PostgreSQL: not on this one.
    settings = await asyncio.to_thread(
        results_settings_factory, "results-cli-env", allure_cli=str(cli)
    )
    app = create_app(settings)
    async with app_client(app) as client:
        run = (await post_run_with(client, tiny_results("passed"))).json()
        assert (await client.post(f"{API}/runs/{run['id']}/report")).status_code == 202
        report = await wait_until_built(client, run["id"])
        page = await client.get(f"{API}/runs/{run['id']}/report/index.html")

    assert report["status"] == "ready", report
    environment = (tmp_path / "environment.txt").read_text()
    assert "do-not-pass-me" not in environment
    assert "nor-me" not in environment
    assert "TESTOPS_" not in environment
    assert "ALLURE_NO_ANALYTICS=true" in environment
    assert f"PATH={os.environ['PATH']}" in environment
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
