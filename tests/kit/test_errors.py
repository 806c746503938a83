"""Every error a client sees is application/problem+json with a machine code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field

from testops_kit.errors import (
    Conflict,
    ErrorItem,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    field_error,
)
from testops_kit.testing import app_client, assert_problem


class WidgetNameConflict(Conflict):
    code = "widget_name_conflict"
    title = "Widget name conflict"


class WidgetNotFound(NotFound):
    code = "widget_not_found"
    title = "Widget not found"


class Widget(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=1)


router = APIRouter()


@router.post("/widgets/conflict")
async def raise_conflict() -> None:
    raise WidgetNameConflict("A widget named 'gear' exists (id 7).")


@router.get("/widgets/missing")
async def raise_not_found_without_detail() -> None:
    raise WidgetNotFound()


@router.post("/widgets/invalid")
async def raise_invalid_with_errors() -> None:
    raise InvalidRequest(
        "Two steps share position 1.",
        errors=[
            field_error(["body", "steps", 1, "position"], "Duplicate position 1."),
            ErrorItem(loc=["body", "steps", 2, "position"], message="Duplicate position 1."),
        ],
    )


@router.get("/widgets/later")
async def raise_with_headers() -> None:
    raise ServiceUnavailable("Come back in a minute.", headers={"Retry-After": "60"})


@router.post("/widgets")
async def create_widget(widget: Widget, dry_run: Annotated[bool, Query()] = False) -> Widget:
    return widget


@router.get("/widgets/boom")
async def fail_unexpectedly() -> None:
    raise RuntimeError("Traceback secret: password=hunter2 at /srv/app/internal.py")


@pytest.fixture
def app(build_app: Callable[..., FastAPI]) -> FastAPI:
    return build_app(router)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


async def test_our_error_becomes_problem_json_with_type_title_status_detail_and_code(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/widgets/conflict")

    assert_problem(response, 409, "widget_name_conflict")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:testops:problem:widget_name_conflict",
        "title": "Widget name conflict",
        "status": 409,
        "detail": "A widget named 'gear' exists (id 7).",
        "code": "widget_name_conflict",
    }


async def test_our_error_without_detail_uses_its_title_as_detail(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/widgets/missing")

    body = assert_problem(response, 404, "widget_not_found")
    assert body["detail"] == "Widget not found"
    assert "errors" not in body


async def test_our_error_with_field_errors_lists_them(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/widgets/invalid")

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {"loc": ["body", "steps", 1, "position"], "message": "Duplicate position 1."},
        {"loc": ["body", "steps", 2, "position"], "message": "Duplicate position 1."},
    ]


async def test_our_error_keeps_its_extra_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/widgets/later")

    assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "60"


async def test_a_valid_request_is_not_an_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/widgets", json={"name": "gear", "size": 3})

    assert response.status_code == 200
    assert response.json() == {"name": "gear", "size": 3}


async def test_an_invalid_body_is_422_validation_error_naming_each_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/widgets", json={"name": "", "size": 0})

    body = assert_problem(response, 422, "validation_error")
    assert sorted(item["loc"] for item in body["errors"]) == [
        ["body", "name"],
        ["body", "size"],
    ]
    assert all(item["message"] for item in body["errors"])
    assert "body.name" in body["detail"]


async def test_a_missing_body_field_is_422_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/widgets", json={"name": "gear"})

    body = assert_problem(response, 422, "validation_error")
    assert [item["loc"] for item in body["errors"]] == [["body", "size"]]


async def test_an_invalid_query_parameter_is_422_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/widgets", params={"dry_run": "perhaps"}, json={"name": "gear", "size": 1}
    )

    body = assert_problem(response, 422, "validation_error")
    assert [item["loc"] for item in body["errors"]] == [["query", "dry_run"]]


async def test_a_body_that_is_not_json_is_422_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/widgets", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"][0] == "body"


async def test_an_unknown_route_is_404_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")

    body = assert_problem(response, 404, "not_found")
    assert body["detail"] == "No route matches GET /api/v1/nothing-here."


async def test_a_wrong_method_is_405_method_not_allowed_with_allow(
    client: httpx.AsyncClient,
) -> None:
    response = await client.delete("/api/v1/widgets")

    body = assert_problem(response, 405, "method_not_allowed")
    assert body["detail"] == "DELETE is not allowed on /api/v1/widgets."
    assert response.headers["Allow"] == "POST"


async def test_an_unexpected_exception_is_500_internal_error_without_its_details(
    app: FastAPI,
    lenient_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]],
) -> None:
    async with lenient_client(app) as client:
        response = await client.get("/api/v1/widgets/boom")

    body = assert_problem(response, 500, "internal_error")
    assert body == {
        "type": "urn:testops:problem:internal_error",
        "title": "Internal server error",
        "status": 500,
        "detail": "An unexpected error occurred; it has been logged.",
        "code": "internal_error",
    }
    for leak in ("Traceback", "RuntimeError", "hunter2", "internal.py"):
        assert leak not in response.text
