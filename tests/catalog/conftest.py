"""The catalog app on a fresh database for the session, and factories and readers tests share.

``client`` is the catalog on the default local storage, acting in the project ``DEFAULT``.
``attachments_client`` is a second catalog whose storage is the session's storage backend (a
folder, then moto's S3), so the tests that use it run once per storage.

``alpha`` and ``beta`` act in two new projects of their own (on ``client``'s catalog), each in
one of the two path forms (the tests that use them run once per form): their paths are relative
to the API's root, ``/test-cases`` → ``/api/v1/test-cases`` or
``/api/v1/projects/<key>/test-cases``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from testops_catalog.attachments.service import KEY_PREFIX
from testops_catalog.main import create_app
from testops_catalog.settings import CatalogSettings
from testops_kit.projects import API_PREFIX
from testops_kit.storage import Storage
from testops_kit.testing import TEST_PRINCIPAL, PrincipalAuth, app_client, principal_settings

JSON = dict[str, Any]


@pytest.fixture(scope="session")
def catalog_settings(
    database_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> CatalogSettings:
    return CatalogSettings(
        database_url=database_url_factory("catalog"),
        data_dir=tmp_path_factory.mktemp("catalog-data"),
        **principal_settings(),
    )


@pytest.fixture(scope="session")
def catalog_app(catalog_settings: CatalogSettings) -> FastAPI:
    """The catalog ``client`` talks to; it runs as long as ``client`` does."""
    return create_app(catalog_settings)


@pytest.fixture(scope="session")
async def client(catalog_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(catalog_app) as client:
        yield client


def new_project_key() -> str:
    """A project key no other test uses: ``P3F2A9C1B``."""
    return f"P{uuid.uuid4().hex[:8].upper()}"


def project_client(app: FastAPI, project: str, path_form: str) -> httpx.AsyncClient:
    """A client of a running ``app`` acting in ``project`` as the gateway signs it, its paths
    relative to the root of ``path_form``: ``unscoped`` (``/api/v1``, the principal's project)
    or ``scoped`` (``/api/v1/projects/<project>``)."""
    root = API_PREFIX if path_form == "unscoped" else f"{API_PREFIX}/projects/{project}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver{root}",
        auth=PrincipalAuth("catalog", replace(TEST_PRINCIPAL, project=project)),
    )


@pytest.fixture(params=["unscoped", "scoped"])
def path_form(request: pytest.FixtureRequest) -> str:
    """Which of the two forms of every path a test's project clients use."""
    form: str = request.param
    return form


@pytest.fixture
async def alpha(
    catalog_app: FastAPI, client: httpx.AsyncClient, path_form: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The catalog, acting in a new project."""
    async with project_client(catalog_app, new_project_key(), path_form) as alpha:
        yield alpha


@pytest.fixture
async def beta(
    catalog_app: FastAPI, client: httpx.AsyncClient, path_form: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The catalog, acting in another new project."""
    async with project_client(catalog_app, new_project_key(), path_form) as beta:
        yield beta


async def created(client: httpx.AsyncClient, path: str, body: JSON) -> JSON:
    """POST ``body`` to ``path`` (it must be created) and return what was answered."""
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    answer: JSON = response.json()
    return answer


@pytest.fixture
def create_case(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a test case (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("case"), **fields}
        response = await client.post("/api/v1/test-cases", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create


@pytest.fixture
def create_suite(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a suite (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("suite"), **fields}
        response = await client.post("/api/v1/suites", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create


@pytest.fixture
def create_tag(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> Callable[..., Awaitable[JSON]]:
    """Create a tag (a unique name unless given) and return its JSON."""

    async def create(**fields: Any) -> JSON:
        body = {"name": unique("tag"), **fields}
        response = await client.post("/api/v1/tags", json=body)
        assert response.status_code == 201, response.text
        result: JSON = response.json()
        return result

    return create


@pytest.fixture
def request_body_schema(client: httpx.AsyncClient) -> Callable[[str, str], Awaitable[JSON]]:
    """``await request_body_schema("patch", "/api/v1/suites/{suite_id}")``: the schema the
    catalog's OpenAPI document gives that operation's JSON body, its ``$ref`` resolved."""

    async def schema(method: str, path: str) -> JSON:
        response = await client.get("/api/v1/openapi.json")
        assert response.status_code == 200, response.text
        document: JSON = response.json()
        # The document shows each route in its project's form.
        scoped = path.replace("/api/v1/", "/api/v1/projects/{project_key}/", 1)
        body = document["paths"][scoped][method]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].removeprefix("#/components/schemas/")
        resolved: JSON = document["components"]["schemas"][name]
        return resolved

    return schema


@pytest.fixture
async def delete_afterwards(client: httpx.AsyncClient) -> AsyncIterator[Callable[[int], None]]:
    """``delete_afterwards(case_id)``: soft-delete that case when the test ends, so a fixed name
    (the seed's examples) is free again for the next test."""
    case_ids: list[int] = []
    yield case_ids.append
    for case_id in case_ids:
        response = await client.delete(f"/api/v1/test-cases/{case_id}")
        assert response.status_code in (204, 404), response.text


@pytest.fixture
def read_case(client: httpx.AsyncClient) -> Callable[[int], Awaitable[JSON]]:
    """Fetch a test case by id (it must be there) and return its JSON."""

    async def read(case_id: int) -> JSON:
        response = await client.get(f"/api/v1/test-cases/{case_id}")
        assert response.status_code == 200, response.text
        case: JSON = response.json()
        return case

    return read


@pytest.fixture
def read_suite(client: httpx.AsyncClient) -> Callable[[int], Awaitable[JSON]]:
    """Fetch a suite by id (it must be there) and return its JSON."""

    async def read(suite_id: int) -> JSON:
        response = await client.get(f"/api/v1/suites/{suite_id}")
        assert response.status_code == 200, response.text
        suite: JSON = response.json()
        return suite

    return read


@pytest.fixture
def read_tag(client: httpx.AsyncClient) -> Callable[[int], Awaitable[JSON]]:
    """Fetch a tag by id (it must be there) and return its JSON."""

    async def read(tag_id: int) -> JSON:
        response = await client.get(f"/api/v1/tags/{tag_id}")
        assert response.status_code == 200, response.text
        tag: JSON = response.json()
        return tag

    return read


@pytest.fixture
async def full_case(
    unique: Callable[[str], str], create_case: Callable[..., Awaitable[JSON]]
) -> JSON:
    """A case with every field, two steps, two tags and a suite link."""
    return await create_case(
        preconditions="User exists",
        description="Checks the login",
        expected_result="Dashboard is shown",
        steps=[{"action": "Open login page", "expected": "Form shown"}, {"action": "Submit"}],
        tags=[unique("smoke"), unique("login")],
        suite_links=[{"suite_name": unique("suite"), "position": 2}],
    )


@pytest.fixture
def link_case(client: httpx.AsyncClient) -> Callable[[int, int], Awaitable[None]]:
    """Add a case at the end of a suite (the add must succeed)."""

    async def link(suite_id: int, case_id: int) -> None:
        response = await client.post(
            f"/api/v1/suites/{suite_id}/cases", json={"test_case_id": case_id}
        )
        assert response.status_code == 201, response.text

    return link


@pytest.fixture
def suite_members(client: httpx.AsyncClient) -> Callable[[int], Awaitable[list[tuple[int, int]]]]:
    """The ``(test_case_id, position)`` pairs of a suite's cases, in order."""

    async def members(suite_id: int) -> list[tuple[int, int]]:
        response = await client.get(f"/api/v1/suites/{suite_id}/cases", params={"limit": 500})
        assert response.status_code == 200, response.text
        return [(item["test_case_id"], item["position"]) for item in response.json()["items"]]

    return members


@pytest.fixture
def suite_with_cases(
    client: httpx.AsyncClient,
    create_suite: Callable[..., Awaitable[JSON]],
    create_case: Callable[..., Awaitable[JSON]],
) -> Callable[[int], Awaitable[tuple[JSON, list[JSON]]]]:
    """Create a suite holding ``count`` new cases in order; return the suite and the cases."""

    async def create(count: int) -> tuple[JSON, list[JSON]]:
        suite = await create_suite()
        cases = [await create_case() for _ in range(count)]
        response = await client.put(
            f"/api/v1/suites/{suite['id']}/cases", json={"test_case_ids": [c["id"] for c in cases]}
        )
        assert response.status_code == 200, response.text
        return suite, cases

    return create


@pytest.fixture(scope="session")
def storage_catalog_settings(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., CatalogSettings]:
    """``make(name, **overrides)``: settings of a catalog on a new database and a new, empty
    namespace of the session's storage backend. Call it from a synchronous fixture (a PostgreSQL
    database is created with a loop of its own)."""

    def make(name: str, **overrides: Any) -> CatalogSettings:
        return CatalogSettings(
            database_url=database_url_factory(name),
            **storage_settings_factory(name),
            data_dir=tmp_path_factory.mktemp(f"{name}-data"),
            **{**principal_settings(), **overrides},
        )

    return make


@pytest.fixture(scope="session")
def attachments_app(
    database_url_factory: Callable[[str], str],
    storage_settings_factory: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> FastAPI:
    """The catalog on the session's storage backend; its storage is ``app.state.storage`` once
    ``attachments_client`` has started it."""
    settings = CatalogSettings(
        database_url=database_url_factory("catalog_attach"),
        **storage_settings_factory("catalog"),
        data_dir=tmp_path_factory.mktemp("catalog-attach-data"),
        **principal_settings(),
    )
    return create_app(settings)


@pytest.fixture(scope="session")
async def attachments_client(attachments_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(attachments_app) as client:
        yield client


@pytest.fixture
def object_keys() -> Callable[[FastAPI], Awaitable[set[str]]]:
    """``await object_keys(app)``: the keys of the attachment objects in a running catalog's
    storage, read now."""

    async def keys(app: FastAPI) -> set[str]:
        storage: Storage = app.state.storage
        return {info.key async for info in storage.list(KEY_PREFIX)}

    return keys


@pytest.fixture
async def attachments_case_id(
    attachments_client: httpx.AsyncClient, unique: Callable[[str], str]
) -> int:
    """A new active test case in ``attachments_app``."""
    response = await attachments_client.post("/api/v1/test-cases", json={"name": unique("case")})
    assert response.status_code == 201, response.text
    case_id: int = response.json()["id"]
    return case_id


@pytest.fixture
async def deleted_case_id(attachments_client: httpx.AsyncClient, attachments_case_id: int) -> int:
    """A test case in ``attachments_app`` that has been soft-deleted."""
    response = await attachments_client.delete(f"/api/v1/test-cases/{attachments_case_id}")
    assert response.status_code == 204, response.text
    return attachments_case_id


@pytest.fixture
def attach(attachments_client: httpx.AsyncClient) -> Callable[..., Awaitable[JSON]]:
    """``attach(case_id, content, filename=…, content_type=…)``: upload a file (it must be
    accepted) and return the attachment's JSON."""

    async def upload(
        case_id: int,
        content: bytes = b"log line\n",
        filename: str = "run.log",
        content_type: str | None = None,
    ) -> JSON:
        part = (filename, content) if content_type is None else (filename, content, content_type)
        response = await attachments_client.post(
            f"/api/v1/test-cases/{case_id}/attachments", files={"file": part}
        )
        assert response.status_code == 201, response.text
        attachment: JSON = response.json()
        return attachment

    return upload
