"""Fixtures shared by every test folder (the database ones come from ``testops_kit.testing``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("login")`` → ``"login-3f2a9c1b"``: names no other test uses."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
