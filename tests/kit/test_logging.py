"""Logging never carries a secret: secret-looking keys and URL passwords are masked."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from testops_kit.logging import get_logger, mask_secrets


def masked(**event: Any) -> dict[str, Any]:
    return dict(mask_secrets(None, "info", dict(event)))


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "client_secret",
        "S3_SECRET_ACCESS_KEY",
        "token",
        "access_token",
        "Authorization",
        "credentials",
        "api_key",
    ],
)
def test_the_value_of_a_secret_looking_key_is_hidden(key: str) -> None:
    assert masked(**{key: "hunter2", "event": "login"}) == {key: "***", "event": "login"}


def test_a_secret_that_is_not_a_string_is_hidden_too() -> None:
    assert masked(token=12345, credentials={"user": "u", "pw": "p"}) == {
        "token": "***",
        "credentials": "***",
    }


def test_other_keys_are_left_alone() -> None:
    event = {"event": "created", "case_id": 12, "name": "Login works", "path": "/api/v1/x"}

    assert masked(**event) == event


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:hunter2@db:5432/catalog", "postgresql://app:***@db:5432/catalog"),
        ("postgresql+asyncpg://app:hunter2@db/catalog", "postgresql+asyncpg://app:***@db/catalog"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("https://bot:hunter2@git.example.com/a.git", "https://bot:***@git.example.com/a.git"),
    ],
)
def test_the_password_inside_a_url_is_hidden(url: str, shown: str) -> None:
    assert masked(database=url) == {"database": shown}


def test_a_url_password_inside_a_sentence_is_hidden() -> None:
    event = masked(event="cannot reach postgresql://app:hunter2@db/catalog, retrying")

    assert event == {"event": "cannot reach postgresql://app:***@db/catalog, retrying"}


def test_a_url_without_a_password_is_left_alone() -> None:
    event = {"repo": "https://git.example.com/team/app.git", "db": "postgresql://app@db/x"}

    assert masked(**event) == event


def test_a_logger_configured_with_the_processor_never_emits_the_secret() -> None:
    with capture_logs(processors=[mask_secrets]) as events:
        get_logger("tests.kit.logging").info(
            "connecting", url="postgresql://app:hunter2@db/catalog", api_key="k-123"
        )

    assert "hunter2" not in repr(events)
    assert "k-123" not in repr(events)
    assert events == [
        {
            "event": "connecting",
            "url": "postgresql://app:***@db/catalog",
            "api_key": "***",
            "log_level": "info",
        }
    ]


def test_get_logger_merges_context_bound_with_contextvars() -> None:
    with (
        capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events,
        structlog.contextvars.bound_contextvars(case_id=12),
    ):
        get_logger("tests.kit.logging").info("updated")

    assert events == [{"event": "updated", "case_id": 12, "log_level": "info"}]
