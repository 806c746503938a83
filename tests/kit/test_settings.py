"""Settings: one environment prefix per process, embedded defaults under DATA_DIR."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from testops_kit.settings import DatabaseSettings, ServiceSettings, service_config


class AlphaSettings(DatabaseSettings):
    model_config = service_config("TESTOPS_ALPHA_")
    service_name: ClassVar[str] = "alpha"


class BetaSettings(ServiceSettings):
    model_config = service_config("TESTOPS_BETA_")
    service_name: ClassVar[str] = "beta"


def test_each_process_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTOPS_ALPHA_PORT", "9101")
    monkeypatch.setenv("TESTOPS_BETA_PORT", "9102")
    monkeypatch.setenv("TESTOPS_BETA_HOST", "0.0.0.0")

    alpha, beta = AlphaSettings(), BetaSettings()

    assert (alpha.host, alpha.port) == ("127.0.0.1", 9101)
    assert (beta.host, beta.port) == ("0.0.0.0", 9102)


def test_an_unprefixed_or_foreign_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("TESTOPS_BETA_LOG_LEVEL", "error")
    monkeypatch.setenv("TESTOPS_ALPHA_UNKNOWN_SETTING", "whatever")

    alpha = AlphaSettings()

    assert alpha.port == 8000
    assert alpha.log_level == "info"


def test_prefixed_variables_are_read_whatever_their_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("testops_alpha_migrate_on_start", "false")

    assert AlphaSettings().migrate_on_start is False


def test_the_default_database_is_a_sqlite_file_under_data_dir_named_after_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TESTOPS_ALPHA_DATA_DIR", str(tmp_path / "data"))

    settings = AlphaSettings()

    assert settings.database_url is None
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/data/alpha.db"


def test_the_default_data_dir_is_dot_testops_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = AlphaSettings()

    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/.testops/alpha.db"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("postgresql://app:pw@db:5432/alpha", "postgresql+asyncpg://app:pw@db:5432/alpha"),
        ("postgresql+asyncpg://app@db/alpha", "postgresql+asyncpg://app@db/alpha"),
        ("sqlite:////srv/alpha.db", "sqlite+aiosqlite:////srv/alpha.db"),
    ],
)
def test_a_given_database_url_is_normalised(
    monkeypatch: pytest.MonkeyPatch, given: str, resolved: str
) -> None:
    monkeypatch.setenv("TESTOPS_ALPHA_DATABASE_URL", given)

    assert AlphaSettings().resolved_database_url == resolved


def test_an_unsupported_database_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTOPS_ALPHA_DATABASE_URL", "mysql://app@db/alpha")

    with pytest.raises(ValueError, match="unsupported database backend"):
        _ = AlphaSettings().resolved_database_url


@pytest.mark.parametrize("given", ["DEBUG", "Warning", "error"])
def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("TESTOPS_BETA_LOG_LEVEL", given)

    assert BetaSettings().log_level == given.lower()


def test_an_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTOPS_BETA_LOG_LEVEL", "verbose")

    with pytest.raises(ValidationError, match="log_level"):
        BetaSettings()


def test_an_unknown_log_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTOPS_BETA_LOG_FORMAT", "xml")

    with pytest.raises(ValidationError, match="log_format"):
        BetaSettings()


def test_a_port_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTOPS_BETA_PORT", "70000")

    with pytest.raises(ValidationError, match="port"):
        BetaSettings()
