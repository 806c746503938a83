from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from testops_gateway.docs import assets_folder, docs_router

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(docs_router())
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


def linked(html: str) -> list[str]:
    """The URLs a page loads: every ``src`` and ``href``."""
    return re.findall(r'(?:src|href)="([^"]*)"', html)


async def test_swagger_ui_loads_only_assets_the_gateway_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/docs")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert sorted(linked(response.text)) == [
        "/api/v1/docs/assets/favicon.png",
        "/api/v1/docs/assets/swagger-ui-bundle.js",
        "/api/v1/docs/assets/swagger-ui.css",
    ]


async def test_swagger_ui_reads_the_gateways_document_and_keeps_the_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/docs")

    assert "url: '/api/v1/openapi.json'" in response.text
    assert '"persistAuthorization": true' in response.text
    assert '"validatorUrl": null' in response.text


async def test_redoc_loads_only_assets_the_gateway_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/redoc")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert sorted(linked(response.text)) == [
        "/api/v1/docs/assets/favicon.png",
        "/api/v1/docs/assets/redoc.standalone.js",
    ]
    assert 'spec-url="/api/v1/openapi.json"' in response.text


@pytest.mark.parametrize(("name", "content_type"), sorted(ASSETS.items()))
async def test_an_asset_is_served_with_its_content_type_and_cached_for_a_day(
    client: httpx.AsyncClient, name: str, content_type: str
) -> None:
    response = await client.get(f"/api/v1/docs/assets/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert response.content == (assets_folder() / name).read_bytes()
    assert response.content


@pytest.mark.parametrize(
    "name", ["core.py", "__init__.py", "swagger-ui-bundle.js.map", "..%2Fcore.py", "SWAGGER-UI.CSS"]
)
async def test_an_asset_that_is_not_one_of_the_pages_is_not_found(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(f"/api/v1/docs/assets/{name}")

    assert response.status_code == 404


async def test_the_prefix_and_the_document_url_can_be_chosen() -> None:
    app = FastAPI(openapi_url=None)
    app.include_router(docs_router(prefix="/v2", openapi_url="/v2/spec.json"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        page = await client.get("/v2/docs")
        asset = await client.get("/v2/docs/assets/swagger-ui.css")

    assert "url: '/v2/spec.json'" in page.text
    assert "/v2/docs/assets/swagger-ui-bundle.js" in linked(page.text)
    assert asset.status_code == 200


def test_the_documentation_routes_are_not_in_the_openapi_document() -> None:
    app = FastAPI()
    app.include_router(docs_router())

    assert app.openapi()["paths"] == {}


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
async def test_the_pages_may_load_nothing_from_elsewhere(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)

    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert "connect-src 'self';" in policy + ";"
