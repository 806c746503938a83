"""The README documents what a user needs: the two commands and every setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.deploy.settings_names import SETTINGS, setting_names

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_shows_the_two_set_up_commands() -> None:
    text = README.read_text()

    assert "make run" in text
    assert "make test" in text


@pytest.mark.parametrize("process", sorted(SETTINGS))
def test_readme_documents_every_setting_of_every_process(process: str) -> None:
    text = README.read_text().upper()

    missing = sorted(name for name in setting_names(process) if f"`{name}`" not in text)

    assert missing == []
