"""What a client of the results API does in these tests: upload files, read every page back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from testops_kit.principal import (
    EXECUTOR_ISSUER,
    HEADER,
    Principal,
    PrincipalSigner,
    load_private_key,
)
from testops_kit.testing import (
    TEST_PRINCIPAL,
    PrincipalAuth,
    test_executor_public_key,
    test_executor_signing_key,
)

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
    client: httpx.AsyncClient, files: Iterable[Upload], *, api: str = API, **fields: str
) -> httpx.Response:
    """``POST /runs`` (under ``api``: ``/api/v1`` or ``/api/v1/projects/{key}``) with ``files``
    and form ``fields`` (a unique ``run_name`` unless given)."""
    data = {"run_name": new_run_name(), **fields}
    return await client.post(f"{api}/runs", data=data, files=form_files(files))


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


# --- who a request comes from


def new_project_key() -> str:
    """A project key no other test uses (``P3F2A9C1B``)."""
    return f"P{uuid.uuid4().hex[:8].upper()}"


def admin_of(project: str) -> Principal:
    """The test principal (an instance admin), acting in ``project``."""
    return replace(TEST_PRINCIPAL, project=project)


def gateway_auth(project: str) -> httpx.Auth:
    """Signs each request as the gateway would for an admin acting in ``project``."""
    return PrincipalAuth("results", admin_of(project))


def executor_key_settings() -> dict[str, str]:
    """The settings (keyword arguments) that make results trust the test executor key."""
    return {"executor_public_key": test_executor_public_key()}


def execution_principal(project: str, execution_id: str) -> Principal:
    """Who an execution's upload comes from, as the executor signs it."""
    return Principal(
        subject=f"execution:{execution_id}",
        name="executor",
        project=project,
        role="editor",
        scopes=frozenset({"write"}),
    )


class SignedBy(httpx.Auth):
    """Signs ``principal`` for ``audience`` into every request with ``signer``: the executor's
    key, or one results has never heard of."""

    def __init__(
        self, signer: PrincipalSigner, principal: Principal, *, audience: str = "results"
    ) -> None:
        self.signer = signer
        self.principal = principal
        self.audience = audience

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[HEADER] = self.signer.sign(self.principal, audience=self.audience)
        yield request


def executor_auth(project: str, execution_id: str) -> httpx.Auth:
    """Signs each request as the executor signs the upload of execution ``execution_id`` to
    ``project``."""
    signer = PrincipalSigner(load_private_key(test_executor_signing_key()), issuer=EXECUTOR_ISSUER)
    return SignedBy(signer, execution_principal(project, execution_id))


@dataclass(frozen=True)
class Project:
    """A project the tests act in: its key, a client signed for an admin of it, and the root
    of the path form its requests use (``/api/v1`` or ``/api/v1/projects/{key}``)."""

    key: str
    client: httpx.AsyncClient
    api: str

    async def upload(self, files: Iterable[Upload], **fields: str) -> JSON:
        """``POST /runs`` in this project (it must succeed): the run."""
        response = await post_run_with(self.client, files, api=self.api, **fields)
        assert response.status_code == 201, response.text
        run: JSON = response.json()
        return run

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{self.api}{path}", params=params)

    async def every(self, path: str, **params: Any) -> list[JSON]:
        return await every_item(self.client, f"{self.api}{path}", **params)


NewProject = Callable[[], Project]
"""``new_project()``: a :class:`Project` no other test acts in (the ``new_project`` fixture)."""

UNKNOWN_ID = 2_147_483_647
"""The largest id there is; no test database gets that far."""


def assert_hidden_as_missing(response: httpx.Response, missing: httpx.Response) -> None:
    """``response``, to something of another project, is the 404 that ``missing`` (to an id
    nothing has) is: the same status, type, title and code, and a detail that differs only by
    the id it names."""
    assert response.status_code == 404, response.text
    assert missing.status_code == 404, missing.text
    assert response.headers["content-type"] == missing.headers["content-type"]
    body, expected = response.json(), missing.json()
    assert {**body, "detail": None} == {**expected, "detail": None}
    assert re.sub(r"\d+", "<id>", body["detail"]) == re.sub(r"\d+", "<id>", expected["detail"])
