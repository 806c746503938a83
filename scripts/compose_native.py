"""docker-compose.yml, read for a run without containers: the same settings, native addresses.

``make run-prod`` starts TestOps as docker-compose.yml deploys it, on this machine: each TestOps
process gets exactly the ``environment:`` compose gives its container, interpolated from the
environment and ``.env`` as compose does it, with only what cannot be the same outside the
containers' network changed (:func:`native_environment`):

- a compose service's address (``http://results:8002``) becomes the native process's
  (``http://127.0.0.1:<its port>``), and ``HOST`` becomes ``127.0.0.1``;
- a database URL keeps its database name (with a prefix) and takes the server, user and
  password of the PostgreSQL server given;
- MinIO's address becomes the S3 endpoint given;
- paths under the containers' data folder (``/var/lib/testops``) move under a local folder, and
  the image's Allure CLI (``/opt/allure``) is the one ``make allure`` installs;
- a secret the service mounts (``/run/secrets/principal.pem``) is the file of the same name in a
  local folder (never compose's own ``./secrets``, in the repository), and a path under
  ``/run/secrets`` it does not mount moves under its folder, where nothing is, as in its
  container.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy.engine import make_url

CONTAINER_DATA_DIR = "/var/lib/testops"
"""Where the images keep their state (``DATA_DIR``)."""

CONTAINER_ALLURE_DIR = "/opt/allure"
"""Where the results image has the Allure CLI (``npm install --prefix``)."""

CONTAINER_SECRETS_DIR = "/run/secrets"
"""Where compose mounts a secret whose ``target`` is a file name (or that names none)."""

PROCESSES = ("catalog", "results", "executor", "gateway")
"""The compose services that are TestOps processes, by their console script's name."""


class ComposeError(ValueError):
    """docker-compose.yml or its variables cannot be read as compose would read them."""


# --- interpolation, as compose does it


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(rf"\$(?:(\$)|({_NAME})|\{{)")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with compose's ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+other}``, ``${VAR+other}`` and ``$$`` replaced
    from ``variables``; raises :class:`ComposeError` with compose's message for a required
    variable that is missing."""
    out: list[str] = []
    at = 0
    while (match := _TOKEN.search(text, at)) is not None:
        out.append(text[at : match.start()])
        if match.group(1):
            out.append("$")
            at = match.end()
        elif match.group(2):
            out.append(variables.get(match.group(2), ""))
            at = match.end()
        else:
            end = _closing_brace(text, match.end())
            out.append(_braced(text[match.end() : end], variables))
            at = end + 1
    out.append(text[at:])
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ComposeError(f"Unclosed '${{' in {text!r}.")


def _braced(inner: str, variables: Mapping[str, str]) -> str:
    match = re.fullmatch(rf"({_NAME})(?:(:?[-?+])(.*))?", inner, re.DOTALL)
    if match is None:
        raise ComposeError(f"Invalid interpolation '${{{inner}}}'.")
    name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
    value = variables.get(name)
    empty_counts = bool(operator) and operator.startswith(":")
    present = value is not None and (value != "" or not empty_counts)
    kind = operator[-1] if operator else ""
    if kind == "-":
        return value if present and value is not None else interpolate(argument, variables)
    if kind == "?":
        if not present or value is None:
            raise ComposeError(f"required variable {name} is missing a value: {argument}")
        return value
    if kind == "+":
        return interpolate(argument, variables) if present else ""
    return value or ""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (``#`` comments, optional quotes), as compose
    reads them."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not re.fullmatch(_NAME, key.strip()):
            raise ComposeError(f"{path}:{number}: not a KEY=value line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


# --- the document


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise ComposeError(f"{path} has no services.")
    return document


def interpolate_document(value: Any, variables: Mapping[str, str]) -> Any:
    """Every string of a compose document interpolated, as compose does before anything else:
    a required variable missing anywhere is an error, whichever service needs it."""
    if isinstance(value, str):
        return interpolate(value, variables)
    if isinstance(value, dict):
        return {key: interpolate_document(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_document(item, variables) for item in value]
    return value


def service_environment(
    document: Mapping[str, Any], service: str, variables: Mapping[str, str]
) -> dict[str, str]:
    """The ``environment:`` of a compose service, interpolated (a list of ``KEY=value`` or a
    mapping; a key without a value takes it from ``variables``, as compose does)."""
    spec = document["services"].get(service)
    if spec is None:
        raise ComposeError(f"docker-compose.yml has no service {service!r}.")
    raw = spec.get("environment") or {}
    if isinstance(raw, list):
        pairs = [str(item).partition("=") for item in raw]
        raw = {key: (value if sep else None) for key, sep, value in pairs}
    environment: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            if key in variables:
                environment[key] = variables[key]
            continue
        text = value if isinstance(value, str) else _scalar(value)
        environment[key] = interpolate(text, variables)
    return environment


def secret_files(document: Mapping[str, Any]) -> dict[str, str]:
    """The top-level ``secrets:``: name → the file compose reads it from, as written (relative to
    the compose file). Only file secrets can be run natively."""
    files: dict[str, str] = {}
    for name, spec in (document.get("secrets") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
            raise ComposeError(f"secret {name!r}: only secrets read from a file are supported")
        files[name] = spec["file"]
    return files


def service_secrets(document: Mapping[str, Any], service: str) -> dict[str, str]:
    """The secrets a compose service mounts: the path in its container → the file compose reads
    it from (as :func:`secret_files` gives it)."""
    files = secret_files(document)
    mounted: dict[str, str] = {}
    for entry in document["services"][service].get("secrets") or []:
        source = entry if isinstance(entry, str) else entry.get("source")
        target = entry.get("target", source) if isinstance(entry, dict) else source
        if source not in files or not isinstance(target, str):
            raise ComposeError(f"service {service!r} mounts the undefined secret {source!r}")
        path = target if target.startswith("/") else f"{CONTAINER_SECRETS_DIR}/{target}"
        mounted[path] = files[source]
    return mounted


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- from the containers' network to this machine


@dataclass(frozen=True, slots=True)
class NativePlace:
    """Where things are on this machine."""

    ports: Mapping[str, int]
    """Compose service name → the native port of its process (``executor``: the first one)."""
    postgres_url: str
    """The PostgreSQL server the databases are made on (its user, password, host and port)."""
    database_prefix: str
    """Put in front of compose's database names, so that several deployments share a server."""
    s3_endpoint_url: str
    """Stands in for MinIO's address."""
    data_dir: Path
    """Stands in for the containers' data folder; each compose service gets a folder in it."""
    allure_dir: Path
    """Stands in for the image's Allure CLI folder."""
    secrets_dir: Path
    """Stands in for the folder of compose's secret files: each is the file of the same name
    here."""
    object_store_service: str = "minio"


def native_environment(
    environment: Mapping[str, str],
    service: str,
    place: NativePlace,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A compose service's environment with the containers' addresses made this machine's;
    ``secrets`` are those the service mounts (:func:`service_secrets`)."""
    native: dict[str, str] = {}
    mounted = secrets or {}
    for key, value in environment.items():
        name = key.upper()
        if name.endswith("_HOST") and value in ("0.0.0.0", "::"):
            native[key] = "127.0.0.1"
        elif name.endswith("_DATABASE_URL"):
            native[key] = native_database_url(value, place)
        elif value in mounted:
            native[key] = str(place.secrets_dir / PurePosixPath(mounted[value]).name)
        elif value.startswith(CONTAINER_SECRETS_DIR + "/"):
            native[key] = str(place.data_dir / service) + value
        elif value.startswith(CONTAINER_DATA_DIR):
            native[key] = str(place.data_dir / service) + value[len(CONTAINER_DATA_DIR) :]
        elif value.startswith(CONTAINER_ALLURE_DIR):
            native[key] = str(place.allure_dir) + value[len(CONTAINER_ALLURE_DIR) :]
        else:
            native[key] = _native_address(value, place)
    return native


def native_database_url(url: str, place: NativePlace) -> str:
    """The server of ``place.postgres_url``, the database of ``url`` (prefixed)."""
    container = make_url(url)
    server = make_url(place.postgres_url)
    return server.set(
        drivername=container.drivername,
        database=f"{place.database_prefix}{container.database}",
    ).render_as_string(hide_password=False)


def _native_address(value: str, place: NativePlace) -> str:
    if not value.startswith(("http://", "https://")):
        return value
    parts = urlsplit(value)
    host = parts.hostname or ""
    if host == place.object_store_service:
        return place.s3_endpoint_url.rstrip("/") + parts.path
    if host in place.ports:
        return f"http://127.0.0.1:{place.ports[host]}{parts.path}"
    return value
