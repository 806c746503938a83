"""Each first segment after /api/v1/ reaches the service api.md's routing table names, with
the query string, the caller's request id and the service's headers passed through."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from typing import Any

import httpx
import pytest
from tests.gateway.conftest import Upstreams, bearer

from testops_gateway.metrics import Metrics
from testops_gateway.proxy import upstream_of
from testops_kit.testing import assert_problem, wait_for

API = "/api/v1"


@pytest.fixture
def root(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["root"])


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/test-cases", "catalog"),
        ("/suites", "catalog"),
        ("/tags", "catalog"),
        ("/runs", "results"),
        ("/executions", "executor"),
    ],
)
async def test_a_collection_is_answered_by_the_service_that_owns_it(
    gateway: httpx.AsyncClient,
    upstreams: Upstreams,
    root: dict[str, str],
    path: str,
    service: str,
) -> None:
    through = await gateway.get(f"{API}{path}", headers=root, params={"limit": 1})
    async with getattr(upstreams, service).client() as direct:
        expected = await direct.get(f"{API}{path}", params={"limit": 1})

    assert through.status_code == 200, through.text
    assert through.json().keys() == expected.json().keys() == {"items", "next_cursor"}


@pytest.mark.parametrize(
    ("path", "detail_names"),
    [
        ("/results/999999", "result"),
        ("/attachments/999999", "attachment"),
        ("/tests/0123456789abcdef/history", None),
        ("/executions/00000000-0000-4000-8000-000000000000", "execution"),
    ],
)
async def test_an_item_route_reaches_its_service(
    gateway: httpx.AsyncClient, root: dict[str, str], path: str, detail_names: str | None
) -> None:
    response = await gateway.get(f"{API}{path}", headers=root)

    if detail_names is None:
        assert response.status_code == 200, response.text
    else:
        body = assert_problem(response, 404, response.json()["code"])
        assert detail_names in body["detail"].lower(), body


async def test_an_unknown_first_segment_is_404_from_the_gateway(
    gateway: httpx.AsyncClient, root: dict[str, str]
) -> None:
    response = await gateway.get(f"{API}/nothing-here", headers=root)

    assert_problem(response, 404, "not_found")


async def test_repeated_query_parameters_reach_the_service(
    gateway: httpx.AsyncClient, root: dict[str, str], unique: Any
) -> None:
    names = [unique("tag") for _ in range(3)]
    for name in names:
        created = await gateway.post(f"{API}/tags", json={"name": name}, headers=root)
        assert created.status_code == 201, created.text

    page = await gateway.get(f"{API}/tags", params={"limit": 500}, headers=root)
    listed = {tag["name"] for tag in page.json()["items"]}
    assert set(names) <= listed
    statuses = await gateway.get(
        f"{API}/executions",
        params=[("status", "completed"), ("status", "cancelled"), ("limit", "5")],
        headers=root,
    )
    assert statuses.status_code == 200, statuses.text
    bad = await gateway.get(
        f"{API}/executions", params=[("status", "completed"), ("status", "nope")], headers=root
    )
    # The service saw the second value too: it is the one it refuses.
    body = assert_problem(bad, 422, "validation_error")
    assert any(error["loc"][:2] == ["query", "status"] for error in body["errors"]), body


async def test_location_etag_and_if_match_pass_through_unchanged(
    gateway: httpx.AsyncClient, root: dict[str, str], unique: Any
) -> None:
    body = {"name": unique("case"), "steps": [{"position": 1, "action": "open"}]}
    created = await gateway.post(f"{API}/test-cases", json=body, headers=root)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    assert created.headers["location"] == f"{API}/test-cases/{case_id}"
    etag = created.headers["etag"]

    stale = await gateway.patch(
        f"{API}/test-cases/{case_id}",
        json={"description": "x"},
        headers={**root, "If-Match": '"999"'},
    )
    assert_problem(stale, 412, "precondition_failed")
    fresh = await gateway.patch(
        f"{API}/test-cases/{case_id}",
        json={"description": "x"},
        headers={**root, "If-Match": etag},
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["etag"] != etag


def _results_archive(attachment: bytes) -> bytes:
    case = uuid.uuid4().hex
    result = {
        "uuid": case,
        "historyId": case,
        "name": "test_download",
        "fullName": f"tests.test_gateway#test_download_{case}",
        "status": "passed",
        "start": 1_700_000_000_000,
        "stop": 1_700_000_000_100,
        "attachments": [{"name": "log", "source": f"{case}-attachment.txt", "type": "text/plain"}],
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (
            (f"{case}-result.json", json.dumps(result).encode()),
            (f"{case}-attachment.txt", attachment),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def test_an_upload_and_a_range_request_pass_through(
    gateway: httpx.AsyncClient, root: dict[str, str], unique: Any
) -> None:
    attachment = bytes(range(256)) * 64
    upload = await gateway.post(
        f"{API}/runs",
        data={"run_name": unique("run")},
        files={"files": ("results.tar.gz", _results_archive(attachment), "application/gzip")},
        headers=root,
    )
    assert upload.status_code == 201, upload.text
    run_id = upload.json()["id"]
    listed = await gateway.get(f"{API}/runs/{run_id}/attachments", headers=root)
    (item,) = listed.json()["items"]

    part = await gateway.get(
        f"{API}/attachments/{item['id']}/content", headers={**root, "Range": "bytes=10-19"}
    )

    assert part.status_code == 206, part.text
    assert part.content == attachment[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(attachment)}"


async def test_the_request_id_is_passed_on_and_echoed(
    gateway: httpx.AsyncClient, upstreams: Upstreams, root: dict[str, str]
) -> None:
    request_id = f"gw-test-{uuid.uuid4().hex}"

    given = await gateway.get(
        f"{API}/test-cases/999999", headers={**root, "X-Request-ID": request_id}
    )
    made = await gateway.get(f"{API}/test-cases/999999", headers=root)

    assert given.headers["x-request-id"] == request_id
    assert made.headers["x-request-id"]
    assert made.headers["x-request-id"] != request_id
    # The catalog's access log has both requests under the gateway's ids, not ids of its own;
    # it is written once the response has been sent, so it may come a moment later.

    async def logged() -> bool | None:
        text = upstreams.catalog.log_path.read_text()
        return True if request_id in text and made.headers["x-request-id"] in text else None

    await wait_for(logged, within=10)


async def test_an_encoded_path_reaches_the_service_as_it_was_sent(
    gateway: httpx.AsyncClient, upstreams: Upstreams, root: dict[str, str]
) -> None:
    """`%3F` and `%23` stay part of the id: decoded, they would end the path early and the
    catalog would answer for another test case."""
    created = await gateway.post(
        f"{API}/test-cases", json={"name": f"encoded-{uuid.uuid4().hex}"}, headers=root
    )
    case_id = created.json()["id"]
    async with upstreams.catalog.client() as direct:
        for suffix in ("%3Fx", "%23x", "%2Fx"):
            path = f"{API}/test-cases/{case_id}{suffix}"
            through = await gateway.get(path, headers=root)
            expected = await direct.get(path)
            assert (through.status_code, through.json()["code"]) == (
                expected.status_code,
                expected.json()["code"],
            ), suffix
            assert through.status_code in (404, 422), through.text


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/test-cases", "catalog"),
        ("/api/v1/projects/SHOP/test-cases/12", "catalog"),
        ("/api/v1/projects/SHOP/runs", "results"),
        ("/api/v1/projects/SHOP/executions/current", "executor"),
        ("/api/v1/projects", None),
        ("/api/v1/projects/SHOP", None),
        ("/api/v1/projects/SHOP/members", None),
        ("/api/v1/projects/SHOP/members/3", None),
        ("/api/v1/projects//test-cases", None),
    ],
)
def test_a_scoped_path_goes_to_the_service_of_its_segment_after_the_project(
    path: str, service: str | None
) -> None:
    assert upstream_of(path) == service


def test_both_forms_of_a_path_are_counted_under_one_route() -> None:
    metrics = Metrics()
    metrics.use_templates(["/api/v1/test-cases/{test_case_id}"])

    assert metrics.route_of("/api/v1/test-cases/12") == "/api/v1/test-cases/{test_case_id}"
    assert (
        metrics.route_of("/api/v1/projects/SHOP/test-cases/12")
        == "/api/v1/test-cases/{test_case_id}"
    )
