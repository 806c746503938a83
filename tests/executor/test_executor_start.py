"""``testops-executor`` does not start without the keys it needs: the gateway's public key, which
every request's principal is checked with, and its own upload key; it says which setting gives
each, without a traceback, and exits with 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.executor.processes import ENV_PREFIX

from testops_kit.testing import principal_settings, upload_signing_settings


def start_without(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """``testops-executor`` with only ``settings`` (and a data folder of its own, holding no
    keys): what it says and how it exits."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}DATA_DIR"] = str(tmp_path / "data")
    env.update({f"{ENV_PREFIX}{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "testops_executor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_an_executor_without_the_gateways_public_key_refuses_to_start(
    tmp_path: Path,
) -> None:
    answer = await asyncio.to_thread(start_without, tmp_path, **upload_signing_settings())

    assert answer.returncode == 2, answer
    assert "TESTOPS_EXECUTOR_PRINCIPAL_PUBLIC_KEY" in answer.stderr
    assert str(tmp_path / "data" / "keys" / "principal.pub") in answer.stderr
    assert "Traceback" not in answer.stderr


async def test_an_executor_without_its_upload_key_refuses_to_start(tmp_path: Path) -> None:
    answer = await asyncio.to_thread(start_without, tmp_path, **principal_settings())

    assert answer.returncode == 2, answer
    assert "TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY" in answer.stderr
    assert str(tmp_path / "data" / "keys" / "executor.pem") in answer.stderr
    assert "Traceback" not in answer.stderr


async def test_an_executor_whose_upload_key_is_not_a_private_key_refuses_to_start(
    tmp_path: Path,
) -> None:
    not_a_key = principal_settings()["principal_public_key"]

    answer = await asyncio.to_thread(
        start_without, tmp_path, **principal_settings(), upload_signing_key=not_a_key
    )

    assert answer.returncode == 2, answer
    assert "TESTOPS_EXECUTOR_UPLOAD_SIGNING_KEY is not an Ed25519 private key" in answer.stderr
    assert not_a_key.strip().splitlines()[1] not in answer.stderr
    assert "Traceback" not in answer.stderr
