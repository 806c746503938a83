"""The README documents what a user needs: the two commands and every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from testops_catalog.settings import CatalogSettings
from testops_executor.settings import ExecutorSettings
from testops_gateway.settings import GatewaySettings
from testops_results.settings import ResultsSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_shows_the_two_set_up_commands() -> None:
    text = README.read_text()

    assert "make run" in text
    assert "make test" in text


@pytest.mark.parametrize(
    "settings_class", [CatalogSettings, ResultsSettings, ExecutorSettings, GatewaySettings]
)
def test_readme_documents_every_setting_of_every_process(
    settings_class: type[BaseSettings],
) -> None:
    text = README.read_text()
    prefix = settings_class.model_config.get("env_prefix", "")

    missing = [
        f"{prefix}{name}".upper()
        for name in settings_class.model_fields
        if f"`{prefix}{name}`".upper() not in text.upper()
    ]

    assert missing == []
