"""Whose requests results answers: the gateway's, and the executor's uploads.

The gateway signs a principal into every request it forwards (:mod:`testops_kit.principal`).
An execution's upload happens long after the request that queued it, so the executor signs its
own, with a key of its own, and may do nothing else with it::

    verifier = gateway_verifier(settings, audience="results",
                                others={EXECUTOR_ISSUER: executor_public_key(settings)})
    executor_may("POST", "/api/v1/projects/SHOP/runs/7/files")  # True
    executor_may("GET", "/api/v1/runs")                          # False
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from testops_kit.principal import MissingKey, load_public_key, read_key
from testops_results.settings import ResultsSettings

EXECUTOR_KEY_SETTING = "TESTOPS_RESULTS_EXECUTOR_PUBLIC_KEY"

_EXECUTOR_UPLOADS = re.compile(r"^/api/v1(?:/projects/[^/]+)?/runs(?:/[^/]+/files)?$")


def executor_may(method: str, path: str) -> bool:
    """What a principal the executor signed may do: upload a run (``POST /runs``) or a shard of
    one (``POST /runs/{id}/files``), in either path form; never read, list or delete."""
    return method == "POST" and _EXECUTOR_UPLOADS.match(path) is not None


def executor_public_key(settings: ResultsSettings) -> Ed25519PublicKey | None:
    """The key the executor's uploads are checked with: the setting, else the file it names,
    else ``<DATA_DIR>/keys/executor.pub`` when there is one; None when none of them is.

    A file named in the settings that is not there, or a key that is not an Ed25519 public key,
    is :class:`MissingKey`: the process must not start on a half-done configuration."""
    named = settings.executor_public_key or settings.executor_public_key_file is not None
    if not named and not settings.resolved_executor_public_key_file.is_file():
        return None
    pem = read_key(
        settings.executor_public_key,
        settings.resolved_executor_public_key_file,
        setting=EXECUTOR_KEY_SETTING,
    )
    try:
        return load_public_key(pem)
    except ValueError as exc:
        raise MissingKey(f"{EXECUTOR_KEY_SETTING} is not an Ed25519 public key: {exc}") from None
