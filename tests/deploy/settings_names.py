"""Which environment variables a TestOps process reads: its settings class's fields under its
prefix, and the few outside variables the executor passes on to the commands it runs.

The deployment checks use this to prove that every variable compose and the Kubernetes manifests
set is one the process really reads, so that a misspelt name fails a test instead of being
silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_settings import BaseSettings

from testops_catalog.settings import CatalogSettings
from testops_executor.settings import ExecutorSettings
from testops_gateway.settings import GatewaySettings
from testops_results.settings import ResultsSettings

SETTINGS: dict[str, type[BaseSettings]] = {
    "catalog": CatalogSettings,
    "results": ResultsSettings,
    "executor": ExecutorSettings,
    "gateway": GatewaySettings,
}
"""Process name → its settings class."""

COMMANDS: dict[str, str] = {name: f"testops-{name}" for name in SETTINGS}
"""Process name → its console script (see each package's ``[project.scripts]``)."""


def setting_names(process: str) -> frozenset[str]:
    """The environment variables the settings of ``process`` read (upper case)."""
    settings = SETTINGS[process]
    prefix = str(settings.model_config.get("env_prefix", ""))
    return frozenset(f"{prefix}{field}".upper() for field in settings.model_fields)


KEY_FILES: dict[str, str] = {
    "PRINCIPAL_PRIVATE_KEY": "principal.pem",
    "PRINCIPAL_PUBLIC_KEY": "principal.pub",
    "UPLOAD_SIGNING_KEY": "executor.pem",
    "EXECUTOR_PUBLIC_KEY": "executor.pub",
}
"""A setting that takes a key (without its prefix) → the file ``testops-gateway keygen`` makes
for it: the gateway's pair ``principal``, the executor's pair ``executor``."""


def key_settings(process: str) -> dict[str, str]:
    """The keys ``process`` needs: each setting that takes one (a ``<NAME>`` field beside a
    ``<NAME>_FILE`` field, ``<NAME>`` ending in ``_KEY``), without its prefix → the key file
    that is its value. A key setting :data:`KEY_FILES` does not know is an error, so that a new
    key cannot go unchecked by the deployment checks."""
    fields = SETTINGS[process].model_fields
    keys = sorted(
        name.removesuffix("_file").upper()
        for name in fields
        if name.endswith("_key_file") and name.removesuffix("_file") in fields
    )
    unknown = [key for key in keys if key not in KEY_FILES]
    if unknown:
        raise ValueError(f"{process}: {', '.join(unknown)} take a key KEY_FILES does not name")
    return {key: KEY_FILES[key] for key in keys}


def passed_through(process: str) -> frozenset[str]:
    """Outside variables a process hands on to its children (the executor's ``CHILD_ENV``:
    certificates, proxies, package indexes)."""
    if process != "executor":
        return frozenset()
    return frozenset(
        ExecutorSettings.model_fields["child_env"].get_default(call_default_factory=True)
    )


def unknown_variables(process: str, names: Iterable[str]) -> list[str]:
    """The names among ``names`` that ``process`` does not read, sorted."""
    known = setting_names(process) | passed_through(process)
    return sorted(name for name in set(names) if name not in known)
