"""GET /api/v1: the address `make run` prints first answers with where to go from there."""

from __future__ import annotations

import httpx


async def test_the_api_root_links_to_the_docs_the_document_and_health(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/api/v1")

    assert response.status_code == 200, response.text
    links = response.json()["links"]
    assert links["docs"] == "/api/v1/docs"
    assert links["openapi"] == "/api/v1/openapi.json"
    assert links["health"] == "/healthz"


async def test_every_link_of_the_api_root_answers_without_a_token(
    gateway: httpx.AsyncClient,
) -> None:
    body = (await gateway.get("/api/v1/")).json()

    for name, path in body["links"].items():
        answer = await gateway.get(path)
        assert answer.status_code == 200, (name, path, answer.text[:200])


async def test_the_resources_the_api_root_names_are_routes_of_the_services(
    gateway: httpx.AsyncClient,
) -> None:
    body = (await gateway.get("/api/v1")).json()
    paths = (await gateway.get("/api/v1/openapi.json")).json()["paths"]

    assert body["resources"]
    for path in body["resources"].values():
        # The document shows each in its project's form; the unscoped one acts in the default.
        assert path.replace("/api/v1/", "/api/v1/projects/{project_key}/") in paths, path
