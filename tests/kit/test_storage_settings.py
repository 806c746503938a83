"""Storage settings: which backend STORAGE_URL names, the default folder, the hidden secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from testops_kit.settings import StorageSettings
from testops_kit.storage import InvalidStorageUrl, open_storage, parse_storage_url


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("file:///srv/testops/blobs", ("file", "/srv/testops/blobs", "")),
        ("file://localhost/srv/blobs", ("file", "/srv/blobs", "")),
        ("file:///srv/with%20space", ("file", "/srv/with space", "")),
        ("s3://bucket", ("s3", "bucket", "")),
        ("s3://bucket/", ("s3", "bucket", "")),
        ("s3://bucket/a/b", ("s3", "bucket", "a/b")),
        ("s3://bucket/a/b/", ("s3", "bucket", "a/b")),
    ],
)
def test_a_storage_url_names_its_backend_and_location(
    url: str, parsed: tuple[str, str, str]
) -> None:
    assert parse_storage_url(url) == parsed


@pytest.mark.parametrize(
    "url", ["file://relative", "file://relative/path", "http://x", "s3://", "blobs", ""]
)
def test_an_unusable_storage_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidStorageUrl):
        parse_storage_url(url)


def test_invalid_storage_url_is_a_value_error() -> None:
    assert issubclass(InvalidStorageUrl, ValueError)


def test_the_default_storage_is_the_blobs_folder_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORAGE_URL", raising=False)
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    settings = StorageSettings()

    assert settings.storage_url is None
    assert settings.resolved_storage_url == f"file://{tmp_path}/.testops/blobs"
    assert parse_storage_url(settings.resolved_storage_url) == (
        "file",
        f"{tmp_path}/.testops/blobs",
        "",
    )


async def test_opening_the_default_storage_creates_its_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORAGE_URL", raising=False)
    settings = StorageSettings(data_dir=tmp_path / "data")

    async with open_storage(settings) as storage:
        await storage.put_bytes("k", b"v")

    assert (tmp_path / "data" / "blobs" / "k").read_bytes() == b"v"


def test_a_given_storage_url_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_URL", raising=False)

    assert StorageSettings(storage_url="s3://b/p").resolved_storage_url == "s3://b/p"


def test_the_settings_never_show_the_s3_secret() -> None:
    settings = StorageSettings(storage_url="s3://b", s3_secret_access_key="s3cr3t-hidden")

    assert "s3cr3t-hidden" not in repr(settings)
    assert "s3cr3t-hidden" not in str(settings)
    assert "s3cr3t-hidden" not in settings.model_dump_json()
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "s3cr3t-hidden"
