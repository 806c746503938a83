"""POST /test-cases/{id}/attachments from a client that hangs up before its body has arrived.

``python -m testops_catalog`` in a child process (the in-process transport always delivers the
whole body): the upload is logged once, at info, as ``client_disconnected`` (its access event
says 499), with no 500 and no traceback, and nothing is attached or stored.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from testops_catalog.settings import CatalogSettings
from testops_kit.principal import HEADER as PRINCIPAL_HEADER
from testops_kit.storage import open_storage
from testops_kit.testing import (
    TEST_PRINCIPAL,
    PrincipalAuth,
    ServiceProcess,
    hang_up_mid_body,
    service_process,
    wait_for,
)

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("catalog-hang-up")


@pytest.fixture(scope="module")
def settings(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
) -> dict[str, str]:
    """The catalog's settings (a database is made outside the loop)."""
    storage = storage_settings_factory("catalog-hang-up")
    return {
        "database_url": database_url_factory("catalog_hang_up"),
        **{name: str(value) for name, value in storage.items()},
        "log_format": "json",
    }


@pytest.fixture(scope="module")
async def catalog(settings: dict[str, str], folder: Path) -> AsyncIterator[ServiceProcess]:
    async with service_process(
        "testops_catalog", prefix="TESTOPS_CATALOG_", folder=folder, settings=settings
    ) as process:
        yield process


async def stored_keys(settings: dict[str, str], folder: Path) -> set[str]:
    async with open_storage(CatalogSettings(**settings, data_dir=folder)) as storage:
        return {info.key async for info in storage.list("")}


def signed_principal() -> str:
    return PrincipalAuth("catalog").signer.sign(TEST_PRINCIPAL, audience="catalog")


async def test_a_client_hanging_up_mid_attachment_is_logged_once_and_attaches_nothing(
    catalog: ServiceProcess, settings: dict[str, str], folder: Path
) -> None:
    async with catalog.client() as client:
        created = await client.post(
            "/api/v1/test-cases", json={"name": f"hang-up-{uuid.uuid4().hex[:8]}"}
        )
        assert created.status_code == 201, created.text
        attachments = f"/api/v1/test-cases/{created.json()['id']}/attachments"
        keys_before = await stored_keys(settings, folder)
        request_id = f"hang-up-{uuid.uuid4().hex[:8]}"
        request = client.build_request(
            "POST",
            attachments,
            files={"file": ("trace.bin", os.urandom(256 * 1024), "application/octet-stream")},
            # Sent by hand, past the client's auth: signed here as the gateway would.
            headers={"X-Request-ID": request_id, PRINCIPAL_HEADER: signed_principal()},
        )

        await hang_up_mid_body(request, sent=len(request.read()) // 2)

        async def ended() -> list[JSON] | None:
            mine = [e for e in catalog.log_events() if e.get("request_id") == request_id]
            return mine if any(e["event"] == "request" for e in mine) else None

        logged = await wait_for(ended, within=30)
        listed = await client.get(attachments)

    assert [(e["event"], e["level"]) for e in logged] == [
        ("client_disconnected", "info"),
        ("request", "info"),
    ]
    assert logged[1]["status"] == 499
    assert "Traceback" not in catalog.log_path.read_text(errors="replace"), catalog.log_tail()
    assert [e for e in catalog.log_events() if e["level"] in ("error", "critical")] == []
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    assert await stored_keys(settings, folder) == keys_before
