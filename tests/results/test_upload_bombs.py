"""Compression bombs: an archive is refused for how far it expands, not only for its size.

A few MB of zeros that would unpack to gigabytes is far under ``MAX_ARCHIVE_BYTES``; what gives
it away is its ratio. Past ``ARCHIVE_RATIO_FLOOR_BYTES`` of unpacked data, an archive that
unpacks to more than ``MAX_ARCHIVE_RATIO`` times the compressed bytes read is 413
``upload_too_large`` — a zip from its central directory before a byte is unpacked, a tar.gz as
it inflates — and leaves nothing behind: no run, no object, nothing in the spool folder. The
bombs are built block by block (a few MB written, never the zeros) by ``zip_bomb`` and
``tar_gz_bomb``. Real allure-results compress far less and pass, even with no floor at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.results.allure_data import (
    MIB,
    result_file_named,
    tar_gz_bomb,
    tar_gz_folder,
    tar_gz_with,
    zip_bomb,
    zip_folder,
    zip_with,
)
from tests.results.results_api import API, Stored, post_run_with, stored_by

from testops_kit.testing import app_client, assert_problem
from testops_results.main import create_app
from testops_results.settings import ResultsSettings

BOMB_MIB = 2100
"""What each bomb unpacks to: 2.05 GiB of zeros, from about 2 MB."""

KINDS = ["zip", "tar.gz"]


@dataclass(frozen=True)
class Service:
    """A results app on its own database, storage and spool folder."""

    app: FastAPI
    client: httpx.AsyncClient
    spool: Path

    async def stored(self) -> Stored:
        return await stored_by(self.client, self.app)

    def spooled(self) -> list[Path]:
        return sorted(self.spool.iterdir())


def _app(
    factory: Callable[..., ResultsSettings], spool: Path, name: str, **overrides: Any
) -> FastAPI:
    return create_app(factory(name, spool_dir=spool, **overrides))


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bomb-spool")


@pytest.fixture(scope="module")
def default_app(results_settings_factory: Callable[..., ResultsSettings], spool: Path) -> FastAPI:
    """The ratio and floor as shipped (a database is made outside the loop)."""
    return _app(results_settings_factory, spool, "results-bombs")


@pytest.fixture(scope="module")
async def service(default_app: FastAPI, spool: Path) -> AsyncIterator[Service]:
    async with app_client(default_app) as client:
        yield Service(default_app, client, spool)


@pytest.fixture(scope="module")
def no_floor_spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-floor-spool")


@pytest.fixture(scope="module")
def no_floor_app(
    results_settings_factory: Callable[..., ResultsSettings], no_floor_spool: Path
) -> FastAPI:
    """The shipped ratio, checked from the first byte."""
    return _app(
        results_settings_factory, no_floor_spool, "results-no-floor", archive_ratio_floor_bytes=0
    )


@pytest.fixture(scope="module")
async def no_floor(no_floor_app: FastAPI, no_floor_spool: Path) -> AsyncIterator[Service]:
    async with app_client(no_floor_app) as client:
        yield Service(no_floor_app, client, no_floor_spool)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    name = "allure-results/zeros-attachment.bin"
    return {
        "zip": zip_bomb(folder / "results.zip", name=name, mib=BOMB_MIB),
        "tar.gz": tar_gz_bomb(folder / "results.tar.gz", name=name, mib=BOMB_MIB),
    }


def assert_refused_for_its_ratio(response: httpx.Response) -> None:
    body = assert_problem(response, 413, "upload_too_large")
    assert "more than 100 times its compressed size" in body["detail"], body
    assert "TESTOPS_RESULTS_MAX_ARCHIVE_RATIO" in body["detail"], body


@pytest.mark.parametrize("kind", KINDS)
async def test_a_few_mb_of_zeros_unpacking_to_2_gib_is_refused_for_its_ratio(
    service: Service, bombs: dict[str, Path], kind: str
) -> None:
    bomb = bombs[kind]
    assert bomb.stat().st_size < 3 * MIB
    before = await service.stored()

    response = await post_run_with(service.client, [bomb])

    assert_refused_for_its_ratio(response)
    assert await service.stored() == before
    assert service.spooled() == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_bomb_sent_as_a_shard_is_refused_and_leaves_the_run_as_it_was(
    service: Service, bombs: dict[str, Path], allure_results: Path, kind: str
) -> None:
    created = await post_run_with(
        service.client, [result_file_named(allure_results, "test_pays_with_card")]
    )
    assert created.status_code == 201, created.text
    run = created.json()
    before = await service.stored()

    response = await service.client.post(
        f"{API}/runs/{run['id']}/files",
        files=[("files", (bombs[kind].name, bombs[kind].read_bytes(), "application/octet-stream"))],
    )

    assert_refused_for_its_ratio(response)
    assert await service.stored() == before
    after = await service.client.get(f"{API}/runs/{run['id']}")
    assert after.json()["stats"] == run["stats"]
    assert service.spooled() == []


@pytest.mark.parametrize("kind", KINDS)
async def test_an_archive_compressing_far_past_the_ratio_is_accepted_under_the_floor(
    service: Service, allure_results: Path, tmp_path: Path, kind: str
) -> None:
    """32 MiB of zeros (a ratio near 1000) beside a result: small uploads are never refused
    for compressing well."""
    good = result_file_named(allure_results, "test_pays_with_card")
    members = {good.name: good.read_bytes(), "zeros-attachment.bin": bytes(32 * MIB)}
    path = tmp_path / f"results.{kind}"
    archive = zip_with(path, members) if kind == "zip" else tar_gz_with(path, members.items())
    assert archive.stat().st_size * 100 < 32 * MIB

    response = await post_run_with(service.client, [archive])

    assert response.status_code == 201, response.text
    assert response.json()["stats"]["total"] == 1
    assert service.spooled() == []


@pytest.mark.parametrize("kind", KINDS)
async def test_real_allure_results_pass_the_ratio_even_with_no_floor(
    no_floor: Service, allure_results: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"results.{kind}"
    archive = (
        zip_folder(allure_results, path) if kind == "zip" else tar_gz_folder(allure_results, path)
    )

    response = await post_run_with(no_floor.client, [archive])

    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
