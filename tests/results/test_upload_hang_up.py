"""A client that hangs up in the middle of an upload: not a server error, and nothing is kept.

The real thing, which the in-process transport cannot show: ``python -m testops_results`` in a
child process, and a multipart upload whose ``Content-Length`` promises more than is sent before
the connection closes. The service logs it once, at info, as ``client_disconnected`` (its access
event says 499); no 500, no traceback; no run, no object, nothing left in the spool folder.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.results.results_api import API, JSON, Upload, every_item, folder_files, form_files

from testops_kit.storage import open_storage
from testops_kit.testing import (
    PrincipalAuth,
    ServiceProcess,
    hang_up_mid_body,
    service_process,
    wait_for,
)
from testops_results.settings import ResultsSettings

PREFIX = "TESTOPS_RESULTS_"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hang-up")


@pytest.fixture(scope="module")
def settings(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
    folder: Path,
) -> dict[str, str]:
    """The service's settings (a database is made outside the loop)."""
    (folder / "spool").mkdir()
    return {
        "database_url": database_url_factory("hang_up"),
        **{name: str(value) for name, value in storage_settings_factory("hang-up").items()},
        "spool_dir": str(folder / "spool"),
        "log_format": "json",
    }


@pytest.fixture(scope="module")
async def results(settings: dict[str, str], folder: Path) -> AsyncIterator[ServiceProcess]:
    async with service_process(
        "testops_results", prefix=PREFIX, folder=folder, settings=settings
    ) as process:
        yield process


@pytest.fixture
async def client(results: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with results.client() as client:
        yield client


async def events_of(process: ServiceProcess, request_id: str) -> list[JSON]:
    """The log events of one request, once its access event is written."""

    async def ended() -> list[JSON] | None:
        mine = [e for e in process.log_events() if e.get("request_id") == request_id]
        return mine if any(e["event"] == "request" for e in mine) else None

    return await wait_for(ended, within=30, interval=0.05)


async def what_is_kept(
    client: httpx.AsyncClient, settings: dict[str, str], folder: Path
) -> tuple[list[JSON], set[str]]:
    """Every run (deleted ones too) and every object key in storage."""
    runs = await every_item(client, f"{API}/runs", deleted="include")
    async with open_storage(ResultsSettings(**settings, data_dir=folder)) as storage:
        keys = {info.key async for info in storage.list("")}
    return runs, keys


def upload(
    client: httpx.AsyncClient, path: str, files: list[Upload], **fields: str
) -> httpx.Request:
    """The request, signed as the gateway would (its head is sent by hand, not by ``client``)."""
    request_id = f"hang-up-{uuid.uuid4().hex[:8]}"
    request = client.build_request(
        "POST", path, data=fields, files=form_files(files), headers={"X-Request-ID": request_id}
    )
    return next(PrincipalAuth("results").auth_flow(request))


def assert_no_server_error(process: ServiceProcess) -> None:
    text = process.log_path.read_text(errors="replace")
    assert "Traceback" not in text, process.log_tail()
    for event in process.log_events():
        assert event.get("level") not in ("error", "critical"), event
        assert event.get("status") != 500, event


async def test_a_client_hanging_up_mid_upload_is_logged_once_at_info_and_leaves_nothing(
    results: ServiceProcess,
    client: httpx.AsyncClient,
    settings: dict[str, str],
    folder: Path,
    allure_results: Path,
) -> None:
    before = await what_is_kept(client, settings, folder)
    request = upload(client, f"{API}/runs", folder_files(allure_results), run_name="hung-up")
    body = request.read()

    await hang_up_mid_body(request, sent=len(body) // 2)

    logged = await events_of(results, request.headers["X-Request-ID"])
    assert [(e["event"], e["level"]) for e in logged] == [
        ("client_disconnected", "info"),
        ("request", "info"),
    ]
    assert logged[0]["received_bytes"] <= len(body) // 2
    assert logged[0]["declared_bytes"] == len(body)
    assert logged[1]["status"] == 499
    assert_no_server_error(results)
    assert await what_is_kept(client, settings, folder) == before
    assert sorted((folder / "spool").iterdir()) == []


async def test_a_client_hanging_up_mid_shard_leaves_the_run_as_it_was(
    results: ServiceProcess,
    client: httpx.AsyncClient,
    settings: dict[str, str],
    folder: Path,
    allure_results: Path,
) -> None:
    files = folder_files(allure_results)
    created = await client.post(
        f"{API}/runs", data={"run_name": "sharded"}, files=form_files(files[:3])
    )
    assert created.status_code == 201, created.text
    run = created.json()
    before = await what_is_kept(client, settings, folder)
    request = upload(client, f"{API}/runs/{run['id']}/files", files[3:])

    await hang_up_mid_body(request, sent=len(request.read()) // 2)

    logged = await events_of(results, request.headers["X-Request-ID"])
    assert [e["event"] for e in logged] == ["client_disconnected", "request"]
    assert logged[1]["status"] == 499
    assert_no_server_error(results)
    assert await what_is_kept(client, settings, folder) == before
    assert (await client.get(f"{API}/runs/{run['id']}")).json() == run
    assert sorted((folder / "spool").iterdir()) == []
