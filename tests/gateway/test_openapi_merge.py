from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from testops_catalog.main import create_app as create_catalog
from testops_catalog.settings import CatalogSettings
from testops_executor.main import create_app as create_executor
from testops_executor.settings import ExecutorSettings
from testops_gateway.openapi import (
    GATEWAY_ANSWERS,
    OpenAPIDocument,
    gateway_operations,
    merge_documents,
    merge_with_report,
)
from testops_kit.testing import principal_settings, upload_signing_settings
from testops_results.main import create_app as create_results
from testops_results.settings import ResultsSettings

JSON = dict[str, Any]
Documents = dict[str, JSON]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
GATEWAY_STATUSES = {answer.status for answer in GATEWAY_ANSWERS}
GATEWAY_RESPONSE_NAMES = {answer.name for answer in GATEWAY_ANSWERS}
SERVERS = [{"url": "/", "description": "This gateway"}]


@pytest.fixture(scope="session")
def service_documents(tmp_path_factory: pytest.TempPathFactory) -> Documents:
    """The three services' own documents, as they serve them at /api/v1/openapi.json."""
    data = tmp_path_factory.mktemp("gateway-openapi")
    return {
        "catalog": create_catalog(
            CatalogSettings(data_dir=data / "catalog", **principal_settings())
        ).openapi(),
        "results": create_results(
            ResultsSettings(data_dir=data / "results", **principal_settings())
        ).openapi(),
        "executor": create_executor(
            ExecutorSettings(
                data_dir=data / "executor", **principal_settings(), **upload_signing_settings()
            )
        ).openapi(),
    }


def merge(documents: Documents, **overrides: Any) -> JSON:
    arguments: dict[str, Any] = {
        "title": "TestOps",
        "version": "1.2.3",
        "description": "One API.",
        "servers": SERVERS,
        "gateway_paths": gateway_operations(),
    }
    return merge_documents(documents, **(arguments | overrides))


@pytest.fixture(scope="session")
def merged(service_documents: Documents) -> JSON:
    return merge(service_documents)


def operations(document: JSON) -> Iterator[tuple[str, str, JSON]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: JSON, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert token in node, ref
        node = node[token]
    return node


def inline(document: JSON, node: Any, stack: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at; a ref back into a schema being
    inlined becomes ``{"$cycle": depth}``, so the result does not depend on component names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in stack:
                return {"$cycle": stack.index(ref)}
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return {
                "$inlined": inline(document, resolve(document, ref), (*stack, ref)),
                **inline(document, rest, stack),
            }
        return {key: inline(document, value, stack) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(document, item, stack) for item in node]
    return node


def test_the_merged_document_of_the_three_services_is_valid_openapi_3_1(merged: JSON) -> None:
    validate(merged)

    assert merged["openapi"] == "3.1.0"
    assert merged["info"] == {"title": "TestOps", "version": "1.2.3", "description": "One API."}
    assert merged["servers"] == SERVERS


def test_every_api_path_and_method_of_every_service_is_in_the_merged_document(
    service_documents: Documents, merged: JSON
) -> None:
    for name, document in service_documents.items():
        for path, method, _ in operations(document):
            if path.startswith("/api/v1/"):
                assert method in merged["paths"].get(path, {}), (name, method, path)


def test_the_services_health_paths_are_replaced_by_the_gateways_own(merged: JSON) -> None:
    service_paths = [path for path in merged["paths"] if not path.startswith("/api/v1/")]

    assert sorted(service_paths) == ["/healthz", "/metrics", "/readyz"]
    assert [op["operationId"] for _, _, op in operations(merged) if op["tags"] == ["gateway"]] == [
        "gateway_healthz",
        "gateway_readyz",
        "gateway_metrics",
    ]


def test_operation_ids_of_the_merged_document_are_unique(merged: JSON) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(merged)]

    assert len(ids) == len(set(ids))


def test_every_ref_of_the_merged_document_resolves(merged: JSON) -> None:
    found = set(refs(merged))

    assert found
    for ref in found:
        resolve(merged, ref)


def test_every_operation_means_what_it_meant_in_its_service(
    service_documents: Documents, merged: JSON
) -> None:
    for document in service_documents.values():
        for path, method, operation in operations(document):
            if not path.startswith("/api/v1/"):
                continue
            mine = {k: v for k, v in operation.items() if k != "operationId"}
            theirs = {k: v for k, v in merged["paths"][path][method].items() if k != "operationId"}
            theirs["responses"] = without_gateway_answers(mine, theirs["responses"])
            assert inline(merged, theirs) == inline(document, mine), (method, path)


def without_gateway_answers(service_operation: JSON, responses: JSON) -> JSON:
    """``responses`` of the merged document less what the gateway added to the service's."""
    declared = service_operation["responses"]
    kept = {}
    for status, response in responses.items():
        if status in GATEWAY_STATUSES and status not in declared:
            continue
        if status in GATEWAY_STATUSES:
            said, _, _ = response["description"].partition(". From the gateway: ")
            response = {**response, "description": said}
        kept[status] = response
    return kept


def test_schemas_the_services_share_unchanged_are_kept_once_under_their_name(
    merged: JSON,
) -> None:
    schemas = merged["components"]["schemas"]

    for name in ("Problem", "ErrorItem"):
        assert name in schemas
        assert not [other for other in schemas if other != name and other.endswith(name)]


def test_a_schema_name_no_service_defines_is_a_clashing_name_with_a_service_prefix(
    service_documents: Documents, merged: JSON
) -> None:
    defined = {s: set(d["components"]["schemas"]) for s, d in service_documents.items()}
    schemas = merged["components"]["schemas"]

    for name in schemas:
        if any(name in names for names in defined.values()):
            continue
        owners = [s for s in defined if name.removeprefix(s.capitalize()) in defined[s]]
        assert len(owners) == 1, name
        original = name.removeprefix(owners[0].capitalize())
        assert sum(original in names for names in defined.values()) > 1, name
        assert original not in schemas, name


def test_every_component_of_the_merged_document_is_used(merged: JSON) -> None:
    used = set(refs(merged))

    for kind, components in merged["components"].items():
        if kind != "securitySchemes":
            for name in components:
                assert f"#/components/{kind}/{name}" in used, (kind, name)


def test_components_only_the_services_health_paths_use_are_left_out() -> None:
    document = merge({"alpha": alpha_document()})

    assert "Health" not in document["components"]["schemas"]
    assert "Problem" in document["components"]["schemas"]


def test_the_bearer_scheme_applies_to_everything_but_the_gateways_own_paths(
    merged: JSON,
) -> None:
    scheme = merged["components"]["securitySchemes"]["bearerAuth"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["description"]
    assert merged["security"] == [{"bearerAuth": []}]
    for path, _, operation in operations(merged):
        if path.startswith("/api/v1/"):
            assert "security" not in operation, path
        else:
            assert operation["security"] == [], path


def test_tags_are_those_the_operations_use_with_the_gateways_last(merged: JSON) -> None:
    names = [tag["name"] for tag in merged["tags"]]
    used = {tag for _, _, operation in operations(merged) for tag in operation["tags"]}

    assert len(names) == len(set(names))
    assert set(names) == used
    assert "health" not in names
    assert names[-1] == "gateway"
    assert merged["tags"][-1]["description"]


def test_merging_leaves_the_service_documents_as_they_were(service_documents: Documents) -> None:
    before = copy.deepcopy(service_documents)

    merge(service_documents)

    assert service_documents == before


def test_gateway_operations_are_a_valid_document_of_their_own() -> None:
    document = merge({})

    validate(document)
    readyz = document["paths"]["/readyz"]["get"]
    assert set(readyz["responses"]) == {"200", "503"}
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert [tag["name"] for tag in document["tags"]] == ["gateway"]


# ------------------------------------------------------------------- the gateway's own answers


def test_every_forwarded_operation_lists_what_the_gateway_itself_answers(merged: JSON) -> None:
    headers = {
        "401": {"WWW-Authenticate"},
        "403": {"WWW-Authenticate"},
        "429": {"Retry-After"},
        "502": {"Retry-After"},
        "504": set(),
    }
    forwarded = [op for path, _, op in operations(merged) if path.startswith("/api/v1/")]

    assert forwarded
    for operation in forwarded:
        for status, names in headers.items():
            response = operation["responses"][status]
            if "$ref" in response:
                response = resolve(merged, response["$ref"])
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, operation["operationId"]
            assert set(response.get("headers", {})) >= names, (operation["operationId"], status)
            assert all(response["headers"][name]["required"] for name in names)


def test_the_gateways_answers_name_their_codes(merged: JSON) -> None:
    responses = merged["components"]["responses"]

    assert "`unauthenticated`" in responses["Unauthenticated"]["description"]
    assert "`forbidden`" in responses["Forbidden"]["description"]
    assert "`rate_limited`" in responses["RateLimited"]["description"]
    assert "`upstream_unavailable`" in responses["UpstreamUnavailable"]["description"]
    assert "`upstream_timeout`" in responses["UpstreamTimeout"]["description"]


def test_the_gateways_own_operations_need_no_token_and_list_none_of_its_answers(
    merged: JSON,
) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert not GATEWAY_STATUSES & set(merged["paths"][path]["get"]["responses"]), path


def test_a_status_the_service_declares_itself_keeps_its_answer_and_adds_the_gateways(
    service_documents: Documents, merged: JSON
) -> None:
    service = service_documents["executor"]["paths"]["/api/v1/projects/{project_key}/executions"][
        "post"
    ]
    gateway = merged["paths"]["/api/v1/projects/{project_key}/executions"]["post"]

    own = service["responses"]["429"]
    declared = gateway["responses"]["429"]
    assert declared["content"] == own["content"]
    assert declared["headers"] == own["headers"]
    assert declared["description"].startswith(own["description"].rstrip(". "))
    assert "`rate_limited`" in declared["description"]


# ----------------------------------------------------------------------- hand-written clashes


def problem_response(schema_ref: str) -> JSON:
    return {
        "description": "Problem",
        "content": {"application/problem+json": {"schema": {"$ref": schema_ref}}},
    }


def alpha_document() -> JSON:
    return {
        "openapi": "3.1.0",
        "info": {"title": "alpha", "version": "1"},
        "tags": [
            {"name": "things", "description": "Alpha's things"},
            {"name": "unused", "description": "No operation has it"},
        ],
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Health"}
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/things": {
                "parameters": [{"$ref": "#/components/parameters/Limit"}],
                "get": {
                    "tags": ["things"],
                    "operationId": "list_items",
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page_Item_"}
                                }
                            },
                        },
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                },
                "post": {
                    "tags": ["things"],
                    "operationId": "create_item",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "allOf": [{"$ref": "#/components/schemas/Item"}],
                                    "description": "The new item",
                                }
                            }
                        }
                    },
                    "responses": {
                        "201": {
                            "description": "Created",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        }
                    },
                },
            },
        },
        "components": {
            "schemas": {
                "Item": {"type": "object", "properties": {"id": {"type": "integer"}}},
                "Page_Item_": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "by_key": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Item"},
                        },
                        "maybe": {
                            "anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]
                        },
                    },
                },
                "Problem": {"type": "object", "properties": {"code": {"type": "string"}}},
                "Health": {"type": "object", "properties": {"status": {"type": "string"}}},
            },
            "responses": {"NotFound": problem_response("#/components/schemas/Problem")},
            "parameters": {
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}
            },
        },
    }


def beta_document() -> JSON:
    document = alpha_document()
    document["info"]["title"] = "beta"
    document["tags"] = [{"name": "widgets", "description": "Beta's widgets"}]
    things = document["paths"].pop("/api/v1/things")
    things["get"]["tags"] = ["widgets", "extra"]
    del things["post"]
    document["paths"]["/api/v1/widgets"] = things
    document["components"]["schemas"]["Item"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
    }
    return document


@pytest.fixture
def clashing() -> tuple[JSON, list[str]]:
    return merge_with_report(
        {"alpha": alpha_document(), "beta": beta_document()},
        title="T",
        version="1",
        description="",
        servers=SERVERS,
        gateway_paths=gateway_operations(),
    )


def test_a_schema_that_differs_is_prefixed_with_each_services_name(
    clashing: tuple[JSON, list[str]],
) -> None:
    document, _ = clashing
    schemas = document["components"]["schemas"]

    validate(document)
    assert schemas["AlphaItem"] == {"type": "object", "properties": {"id": {"type": "integer"}}}
    assert schemas["BetaItem"] == {"type": "object", "properties": {"name": {"type": "string"}}}
    assert "Item" not in schemas


def test_a_schema_equal_as_text_but_pointing_at_a_renamed_schema_is_renamed_too(
    clashing: tuple[JSON, list[str]],
) -> None:
    document, _ = clashing
    schemas = document["components"]["schemas"]

    assert sorted(schemas) == [
        "AlphaItem",
        "AlphaPage_Item_",
        "BetaItem",
        "BetaPage_Item_",
        "Problem",
    ]
    assert set(refs(schemas["AlphaPage_Item_"])) == {"#/components/schemas/AlphaItem"}
    assert set(refs(schemas["BetaPage_Item_"])) == {"#/components/schemas/BetaItem"}
    assert len(list(refs(schemas["BetaPage_Item_"]))) == 3  # items, additionalProperties, anyOf


def test_every_ref_of_a_renamed_schema_is_rewritten_in_paths_and_request_bodies(
    clashing: tuple[JSON, list[str]],
) -> None:
    document, _ = clashing
    paths = document["paths"]

    post = paths["/api/v1/things"]["post"]
    assert set(refs(post["requestBody"])) == {"#/components/schemas/AlphaItem"}
    assert set(refs(post["responses"]["201"])) == {"#/components/schemas/AlphaItem"}
    assert list(refs(paths["/api/v1/things"]["get"]["responses"]["200"])) == [
        "#/components/schemas/AlphaPage_Item_"
    ]
    assert list(refs(paths["/api/v1/widgets"]["get"]["responses"]["200"])) == [
        "#/components/schemas/BetaPage_Item_"
    ]
    for ref in refs(document):
        resolve(document, ref)


def test_other_components_that_are_equal_are_kept_once(clashing: tuple[JSON, list[str]]) -> None:
    document, _ = clashing

    responses = document["components"]["responses"]
    assert [name for name in responses if name not in GATEWAY_RESPONSE_NAMES] == ["NotFound"]
    assert list(document["components"]["parameters"]) == ["Limit"]
    assert document["paths"]["/api/v1/widgets"]["parameters"] == [
        {"$ref": "#/components/parameters/Limit"}
    ]


def test_an_operation_id_two_services_use_gets_each_services_prefix(
    clashing: tuple[JSON, list[str]],
) -> None:
    document, _ = clashing
    paths = document["paths"]

    assert paths["/api/v1/things"]["get"]["operationId"] == "alpha_list_items"
    assert paths["/api/v1/widgets"]["get"]["operationId"] == "beta_list_items"
    assert paths["/api/v1/things"]["post"]["operationId"] == "create_item"


def test_clashes_are_reported_one_line_each_in_a_stable_order(
    clashing: tuple[JSON, list[str]],
) -> None:
    _, report = clashing

    assert report == [
        "components/schemas/Item differs: alpha -> AlphaItem, beta -> BetaItem",
        "components/schemas/Page_Item_ differs: alpha -> AlphaPage_Item_, beta -> BetaPage_Item_",
        "operationId list_items is used twice: alpha -> alpha_list_items, beta -> beta_list_items",
    ]


def test_a_prefixed_name_a_service_already_uses_gets_a_number() -> None:
    alpha = alpha_document()
    alpha["components"]["schemas"]["BetaItem"] = {"type": "string"}
    alpha["paths"]["/api/v1/things"]["post"]["responses"]["201"]["content"]["application/json"][
        "schema"
    ] = {"$ref": "#/components/schemas/BetaItem"}

    document = merge({"alpha": alpha, "beta": beta_document()})

    schemas = document["components"]["schemas"]
    assert schemas["BetaItem"] == {"type": "string"}
    assert schemas["BetaItem2"] == {"type": "object", "properties": {"name": {"type": "string"}}}
    validate(document)


def test_tags_are_the_services_tags_in_order_without_those_no_operation_uses(
    clashing: tuple[JSON, list[str]],
) -> None:
    document, _ = clashing

    assert [tag["name"] for tag in document["tags"]] == [
        "things",
        "widgets",
        "extra",
        "gateway",
    ]
    assert document["tags"][0] == {"name": "things", "description": "Alpha's things"}
    assert document["tags"][2] == {"name": "extra"}


# ---------------------------------------------------------------------- the cached document


class FakeFetch:
    """A ``fetch`` that answers the documents of the services that are ``up``, counting calls."""

    def __init__(self, documents: Documents, *, up: set[str], delay_s: float = 0.0) -> None:
        self.documents = documents
        self.up = up
        self.delay_s = delay_s
        self.calls: list[str] = []

    async def __call__(self, service: str) -> JSON | None:
        self.calls.append(service)
        await asyncio.sleep(self.delay_s)
        if service not in self.up:
            return None
        return self.documents[service]


def cached(
    fetch: FakeFetch, *, retry_after_s: float = 60.0, ttl_s: float = 60.0
) -> OpenAPIDocument:
    return OpenAPIDocument(
        fetch=fetch,
        services=["catalog", "results", "executor"],
        title="TestOps",
        version="1",
        description="One API.",
        servers=SERVERS,
        retry_after_s=retry_after_s,
        ttl_s=ttl_s,
    )


def service_paths(documents: Documents, service: str) -> set[str]:
    return {path for path in documents[service]["paths"] if path.startswith("/api/v1/")}


async def test_a_service_that_is_down_is_missing_and_the_description_says_so(
    service_documents: Documents,
) -> None:
    document = cached(FakeFetch(service_documents, up={"catalog", "executor"}))

    merged = await document.get()

    assert document.missing == frozenset({"results"})
    assert merged["info"]["description"].startswith("One API.")
    assert "Not available now: results" in merged["info"]["description"]
    assert not service_paths(service_documents, "results") & set(merged["paths"])
    assert service_paths(service_documents, "catalog") <= set(merged["paths"])
    validate(merged)


async def test_a_second_get_within_retry_after_does_not_fetch_again(
    service_documents: Documents,
) -> None:
    fetch = FakeFetch(service_documents, up={"catalog", "executor"})
    document = cached(fetch)

    first = await document.get()
    second = await document.get()

    assert second is first
    assert sorted(fetch.calls) == ["catalog", "executor", "results"]


async def test_a_service_that_comes_back_is_in_the_document_once_retry_after_has_passed(
    service_documents: Documents,
) -> None:
    fetch = FakeFetch(service_documents, up={"catalog", "executor"})
    document = cached(fetch, retry_after_s=0.05)
    await document.get()
    fetch.up.add("results")

    await asyncio.sleep(0.06)
    merged = await document.get()

    assert document.missing == frozenset()
    assert service_paths(service_documents, "results") <= set(merged["paths"])
    assert "Not available now" not in merged["info"]["description"]
    assert len(fetch.calls) == 6


async def test_concurrent_gets_share_one_fetch_of_each_service(
    service_documents: Documents,
) -> None:
    fetch = FakeFetch(service_documents, up={"catalog", "results", "executor"}, delay_s=0.02)
    document = cached(fetch)

    results = await asyncio.gather(*(document.get() for _ in range(10)))

    assert sorted(fetch.calls) == ["catalog", "executor", "results"]
    assert all(result is results[0] for result in results)


async def test_a_complete_document_is_fetched_again_only_once_it_is_older_than_ttl(
    service_documents: Documents,
) -> None:
    fetch = FakeFetch(service_documents, up={"catalog", "results", "executor"})
    document = cached(fetch, retry_after_s=0.0, ttl_s=0.05)

    await document.get()
    await document.get()
    assert len(fetch.calls) == 3
    await asyncio.sleep(0.06)
    await document.get()

    assert len(fetch.calls) == 6


async def test_a_service_down_at_a_refresh_keeps_the_document_it_gave_before(
    service_documents: Documents,
) -> None:
    fetch = FakeFetch(service_documents, up={"catalog", "results", "executor"})
    document = cached(fetch, retry_after_s=0.0, ttl_s=0.0)
    await document.get()
    fetch.up.discard("results")

    merged = await document.get()

    assert len(fetch.calls) == 6
    assert document.missing == frozenset()
    assert service_paths(service_documents, "results") <= set(merged["paths"])


async def test_a_fetch_that_raises_counts_as_a_missing_service(
    service_documents: Documents,
) -> None:
    async def fetch(service: str) -> JSON | None:
        if service == "executor":
            raise ConnectionError("refused")
        return service_documents[service]

    document = OpenAPIDocument(
        fetch=fetch,
        services=["catalog", "results", "executor"],
        title="TestOps",
        version="1",
        description="",
        servers=SERVERS,
    )

    merged = await document.get()

    assert document.missing == frozenset({"executor"})
    assert "Not available now: executor" in merged["info"]["description"]


async def test_before_any_get_every_service_is_missing(service_documents: Documents) -> None:
    document = cached(FakeFetch(service_documents, up=set()))

    assert document.missing == frozenset({"catalog", "results", "executor"})
    merged = await document.get()
    assert sorted(merged["paths"]) == ["/healthz", "/metrics", "/readyz"]
    assert json.dumps(merged)  # plain JSON, ready to be served
