"""What a client of the results API does in these tests: upload files, read every page back."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

API = "/api/v1"
JSON = dict[str, Any]
# A file to upload: a path (sent under its own name) or a name and the bytes to send.
Upload = Path | tuple[str, bytes]
PostRun = Callable[..., Awaitable[httpx.Response]]
CreateRun = Callable[..., Awaitable[JSON]]

# Limits of the small app, low enough that a test can cross each of them cheaply.
SMALL_MAX_UPLOAD_FILES = 5
SMALL_MAX_ARCHIVE_MEMBERS = 5
SMALL_MAX_ARCHIVE_BYTES = 64 * 1024


def form_files(files: Iterable[Upload]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The ``files`` parts of a multipart body."""
    parts = []
    for item in files:
        name, data = (item.name, item.read_bytes()) if isinstance(item, Path) else item
        parts.append(("files", (name, data, "application/octet-stream")))
    return parts


def folder_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file())


def new_run_name() -> str:
    return f"run-{uuid.uuid4().hex[:8]}"


async def post_run_with(
    client: httpx.AsyncClient, files: Iterable[Upload], **fields: str
) -> httpx.Response:
    """``POST /runs`` with ``files`` and form ``fields`` (a unique ``run_name`` unless given)."""
    data = {"run_name": new_run_name(), **fields}
    return await client.post(f"{API}/runs", data=data, files=form_files(files))


async def every_item(client: httpx.AsyncClient, path: str, **params: Any) -> list[JSON]:
    """Every item of a paginated collection, following ``next_cursor`` to the end."""
    items: list[JSON] = []
    cursor = None
    while True:
        page_params = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=page_params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@dataclass(frozen=True)
class Stored:
    """Everything an app has kept: its runs (deleted ones too) and its storage's object keys."""

    run_ids: frozenset[int]
    object_keys: frozenset[str]


async def stored_by(client: httpx.AsyncClient, app: FastAPI) -> Stored:
    runs = await every_item(client, f"{API}/runs", deleted="include")
    keys = [info.key async for info in app.state.storage.list("")]
    return Stored(frozenset(run["id"] for run in runs), frozenset(keys))
