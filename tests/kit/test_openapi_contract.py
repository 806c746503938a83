"""Each service's OpenAPI document is valid, says what really goes over the wire, and merges with
the other services' documents (the gateway serves one document; clients are generated from it)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from testops_catalog.main import create_app as create_catalog_app
from testops_catalog.settings import CatalogSettings
from testops_executor.main import create_app as create_executor_app
from testops_executor.settings import ExecutorSettings
from testops_kit.errors import PROBLEM_CONTENT_TYPE
from testops_kit.testing import principal_settings, upload_signing_settings
from testops_results.main import create_app as create_results_app
from testops_results.settings import ResultsSettings

Document = dict[str, Any]

# Only .openapi() is called: no lifespan, so nothing is opened in data_dir.
SERVICES: dict[str, Callable[[Path], FastAPI]] = {
    "catalog": lambda data_dir: create_catalog_app(
        CatalogSettings(data_dir=data_dir, **principal_settings())
    ),
    "results": lambda data_dir: create_results_app(
        ResultsSettings(data_dir=data_dir, **principal_settings())
    ),
    "executor": lambda data_dir: create_executor_app(
        ExecutorSettings(data_dir=data_dir, **principal_settings(), **upload_signing_settings())
    ),
}

PROBLEM_CONTENT = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

# The verbs operation ids start with; a new one is fine when it is a verb.
VERBS = {
    "add",
    "cancel",
    "check",
    "clear",
    "create",
    "delete",
    "download",
    "get",
    "list",
    "patch",
    "remove",
    "rename",
    "replace",
    "restore",
    "set",
    "update",
    "upload",
}

SNAKE_CASE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")

# What the kit adds to every service alike: the probes and their tag. The gateway keeps one copy.
SHARED_PATHS = {"/healthz", "/readyz"}
SHARED_TAGS = {"health"}

# Operations that read or write object storage as well as the database.
STORAGE_OPERATIONS = [
    ("catalog", "upload_case_attachment"),
    ("catalog", "download_case_attachment"),
    ("catalog", "delete_case_attachment"),
    ("results", "create_run"),
    ("results", "add_run_files"),
    ("results", "get_attachment_content"),
]


def operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` of every operation of ``document``."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def operation_named(document: Document, operation_id: str) -> dict[str, Any]:
    [operation] = [op for _, _, op in operations(document) if op["operationId"] == operation_id]
    return operation


@pytest.fixture(params=sorted(SERVICES))
def document(request: pytest.FixtureRequest, tmp_path: Path) -> Document:
    """One service's OpenAPI document."""
    openapi: Document = SERVICES[request.param](tmp_path).openapi()
    return openapi


@pytest.fixture
def documents(tmp_path: Path) -> dict[str, Document]:
    """Every service's OpenAPI document, by service name."""
    return {name: build(tmp_path / name).openapi() for name, build in SERVICES.items()}


def test_the_document_is_valid_openapi_3_1(document: Document) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_has_a_hand_written_summary(document: Document) -> None:
    for method, path, operation in operations(document):
        # Without one, FastAPI makes one from the function name: "Get Test Case".
        generated = operation["operationId"].replace("_", " ").title()
        assert operation.get("summary") not in (None, "", generated), (method, path)


def test_every_operation_id_is_a_snake_case_verb_phrase(document: Document) -> None:
    for method, path, operation in operations(document):
        operation_id = operation["operationId"]
        assert SNAKE_CASE.match(operation_id), (method, path, operation_id)
        assert operation_id.split("_")[0] in VERBS, (method, path, operation_id)


def test_every_operation_has_one_tag_declared_with_a_description(document: Document) -> None:
    declared = {tag["name"]: tag.get("description") for tag in document["tags"]}

    for method, path, operation in operations(document):
        [tag] = operation["tags"]
        assert declared.get(tag), (method, path, tag)


def test_every_declared_tag_is_used_once_and_by_some_operation(document: Document) -> None:
    names = [tag["name"] for tag in document["tags"]]
    used = {tag for _, _, operation in operations(document) for tag in operation["tags"]}

    assert len(names) == len(set(names))
    assert set(names) == used


def test_every_error_response_is_a_problem(document: Document) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            assert response.get("content") == PROBLEM_CONTENT, (method, path, status)
            assert response["description"] not in ("", "Error"), (method, path, status)


def test_readyz_declares_its_readiness_body_for_200_and_503(document: Document) -> None:
    # Probes read the status and operators the checks, so a not-ready answer is not a problem.
    responses = document["paths"]["/readyz"]["get"]["responses"]
    readiness = {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}

    assert responses["200"]["content"] == readiness
    assert responses["503"]["content"] == readiness
    assert set(document["components"]["schemas"]["Readiness"]["properties"]) == {
        "status",
        "checks",
    }


def test_healthz_declares_its_body(document: Document) -> None:
    responses = document["paths"]["/healthz"]["get"]["responses"]

    assert responses["200"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Liveness"}}
    }


def test_fastapi_validation_error_schemas_appear_nowhere(document: Document) -> None:
    assert "HTTPValidationError" not in json.dumps(document)
    assert "ValidationError" not in document["components"]["schemas"]


def test_every_operation_with_parameters_or_a_body_declares_a_422_problem(
    document: Document,
) -> None:
    for method, path, operation in operations(document):
        if operation.get("parameters") or operation.get("requestBody"):
            assert operation["responses"]["422"]["content"] == PROBLEM_CONTENT, (method, path)


def test_every_api_operation_declares_503_for_a_busy_or_unreachable_database(
    document: Document,
) -> None:
    for method, path, operation in operations(document):
        if not path.startswith("/api/v1/"):
            continue
        unavailable = operation["responses"]["503"]
        assert unavailable["content"] == PROBLEM_CONTENT, (method, path)
        assert "`database_busy`" in unavailable["description"], (method, path)
        assert "`database_unavailable`" in unavailable["description"], (method, path)
        assert "Retry-After" in unavailable["headers"], (method, path)


def test_every_create_declares_the_location_it_answers(
    documents: dict[str, Document],
) -> None:
    created = [
        operation
        for document in documents.values()
        for _, _, operation in operations(document)
        if "201" in operation["responses"]
    ]

    assert created
    for operation in created:
        location = operation["responses"]["201"]["headers"]["Location"]
        assert location["required"] is True, operation["operationId"]


def test_a_resource_that_honours_if_match_declares_the_etag_it_answers(
    tmp_path: Path,
) -> None:
    document = SERVICES["catalog"](tmp_path).openapi()

    for operation_id in (
        "get_test_case",
        "replace_test_case",
        "patch_test_case",
        "get_suite",
        "update_suite",
    ):
        answered = operation_named(document, operation_id)["responses"]["200"]
        assert answered["headers"]["ETag"]["required"] is True, operation_id


@pytest.mark.parametrize(
    ("service", "operation_id"),
    [("executor", "create_execution"), ("results", "create_run_report")],
)
def test_a_queued_request_declares_the_location_to_follow(
    tmp_path: Path, service: str, operation_id: str
) -> None:
    document = SERVICES[service](tmp_path).openapi()

    accepted = operation_named(document, operation_id)["responses"]["202"]

    assert accepted["headers"]["Location"]["required"] is True


@pytest.mark.parametrize(("service", "operation_id"), STORAGE_OPERATIONS)
def test_operations_that_use_object_storage_declare_503_storage_unavailable(
    tmp_path: Path, service: str, operation_id: str
) -> None:
    document = SERVICES[service](tmp_path).openapi()

    unavailable = operation_named(document, operation_id)["responses"]["503"]

    assert "`storage_unavailable`" in unavailable["description"]


def test_operation_ids_name_one_operation_across_the_services(
    documents: dict[str, Document],
) -> None:
    seen: dict[str, tuple[str, str, str]] = {}
    for service, document in documents.items():
        for method, path, operation in operations(document):
            if path in SHARED_PATHS:
                continue
            operation_id = operation["operationId"]
            where = (service, method, path)
            assert operation_id not in seen, f"{operation_id}: {seen[operation_id]} and {where}"
            seen[operation_id] = where


def test_the_shared_probes_are_the_same_in_every_service(documents: dict[str, Document]) -> None:
    catalog, *others = documents.values()

    for other in others:
        for path in SHARED_PATHS:
            assert other["paths"][path] == catalog["paths"][path], path


def test_tags_belong_to_one_service_but_the_shared_health_tag(
    documents: dict[str, Document],
) -> None:
    owners: dict[str, list[str]] = {}
    for service, document in documents.items():
        for tag in document["tags"]:
            owners.setdefault(tag["name"], []).append(service)

    shared = {name for name, services in owners.items() if len(services) > 1}
    assert shared == SHARED_TAGS, owners
