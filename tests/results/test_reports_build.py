"""POST/GET /runs/{id}/report and the report's files: a build from queued to served."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from tests.results.reports_api import needs_allure_cli, report_of, tiny_results, wait_until_built
from tests.results.results_api import (
    API,
    UNKNOWN_ID,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
    post_run_with,
)

from testops_kit.testing import assert_problem, wait_for

pytestmark = needs_allure_cli


async def build_keys(app: FastAPI, run_id: int) -> set[str]:
    """The builds whose files the storage holds for a run."""
    keys = [info.key async for info in app.state.storage.list(f"reports/{run_id}/")]
    return {key.split("/")[2] for key in keys}


async def test_a_run_never_asked_for_has_no_report(
    client: httpx.AsyncClient, create_run: CreateRun
) -> None:
    run = await create_run(tiny_results("passed"))

    assert run["report"] == {"status": "none", "url": None}
    assert await report_of(client, run["id"]) == {
        "status": "none",
        "url": None,
        "error": None,
        "code": None,
    }
    missing = await client.get(f"{API}/runs/{run['id']}/report/index.html")
    assert_problem(missing, 404, "report_file_not_found")


async def test_a_build_goes_from_pending_to_ready_and_its_files_are_served(
    client: httpx.AsyncClient, create_run: CreateRun
) -> None:
    run = await create_run(tiny_results("passed", "failed"))

    queued = await client.post(f"{API}/runs/{run['id']}/report")

    assert queued.status_code == 202, queued.text
    assert queued.headers["location"] == f"/api/v1/runs/{run['id']}/report"
    assert queued.json()["status"] in ("pending", "building")
    report = await wait_until_built(client, run["id"])
    url = f"/api/v1/runs/{run['id']}/report/index.html"
    assert report == {"status": "ready", "url": url, "error": None, "code": None}
    assert (await client.get(f"{API}/runs/{run['id']}")).json()["report"] == {
        "status": "ready",
        "url": url,
    }

    index = await client.get(url)
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    assert "<html" in index.text
    assert (await client.get(f"{API}/runs/{run['id']}/report/")).content == index.content
    again = await client.get(url, headers={"If-None-Match": index.headers["etag"]})
    assert again.status_code == 304

    summary = await client.get(f"{API}/runs/{run['id']}/report/widgets/statistic.json")
    assert summary.status_code == 200, summary.text
    assert summary.headers["content-type"].startswith("application/json")
    assert summary.json()["total"] == 2

    bundle = next(word for word in index.text.split('"') if word.endswith(".js"))
    script = await client.get(f"{API}/runs/{run['id']}/report/{bundle}")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]


async def test_asking_again_while_a_build_is_queued_gives_the_same_build(
    client: httpx.AsyncClient, create_run: CreateRun, results_app: FastAPI
) -> None:
    run = await create_run(tiny_results("passed"))

    answers = await asyncio.gather(
        *(client.post(f"{API}/runs/{run['id']}/report") for _ in range(3))
    )

    assert [a.status_code for a in answers] == [202, 202, 202]
    await wait_until_built(client, run["id"])
    assert len(await build_keys(results_app, run["id"])) == 1


async def test_asking_for_a_ready_report_returns_it_unless_the_run_gained_files(
    client: httpx.AsyncClient, create_run: CreateRun, results_app: FastAPI
) -> None:
    run = await create_run(tiny_results("passed"))
    await client.post(f"{API}/runs/{run['id']}/report")
    await wait_until_built(client, run["id"])
    [first] = await build_keys(results_app, run["id"])

    ready = await client.post(f"{API}/runs/{run['id']}/report")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

    shard = await client.post(
        f"{API}/runs/{run['id']}/files",
        files=[
            ("files", (n, d, "application/octet-stream"))
            for n, d in tiny_results("failed", prefix="more")
        ],
    )
    assert shard.status_code == 200, shard.text
    rebuilt = await client.post(f"{API}/runs/{run['id']}/report")
    assert rebuilt.status_code == 202
    assert (await wait_until_built(client, run["id"]))["status"] == "ready"
    stats = await client.get(f"{API}/runs/{run['id']}/report/widgets/statistic.json")
    assert stats.json()["total"] == 2

    async def old_files_removed() -> bool | None:  # removed just after the new one is ready
        return True if first not in await build_keys(results_app, run["id"]) else None

    await wait_for(old_files_removed, within=10)


async def test_build_report_on_upload_queues_the_build(client: httpx.AsyncClient) -> None:
    response = await post_run_with(client, tiny_results("passed"), build_report="true")

    assert response.status_code == 201, response.text
    run = response.json()
    assert run["report"]["status"] in ("pending", "building", "ready")
    assert (await wait_until_built(client, run["id"]))["status"] == "ready"


@pytest.mark.parametrize(
    "path",
    ["%2e%2e/%2e%2e/uploads", "..%2F..%2Fattachments", "data/%2e%2e/%2e%2e/x", "a//b", "a\\b"],
)
async def test_a_path_out_of_the_report_is_not_found(
    client: httpx.AsyncClient, create_run: CreateRun, path: str
) -> None:
    run = await create_run(tiny_results("passed"))
    await client.post(f"{API}/runs/{run['id']}/report")
    await wait_until_built(client, run["id"])

    response = await client.get(f"{API}/runs/{run['id']}/report/{path}")

    assert response.status_code in (404, 422), response.text


async def test_a_report_of_a_missing_run_is_not_found(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(f"{API}/runs/99999999/report"), 404, "run_not_found")
    assert_problem(await client.get(f"{API}/runs/99999999/report"), 404, "run_not_found")


# --- projects


async def test_a_report_s_urls_are_in_the_path_form_it_is_asked_in(
    new_project: NewProject,
) -> None:
    ours = new_project()
    run = await ours.upload(tiny_results("passed"))

    queued = await ours.client.post(f"{ours.api}/runs/{run['id']}/report")

    assert queued.headers["location"] == f"{ours.api}/runs/{run['id']}/report"
    await wait_until_built(ours.client, run["id"], api=ours.api)
    for api in (API, f"{API}/projects/{ours.key}"):
        url = f"{api}/runs/{run['id']}/report/index.html"
        assert (await report_of(ours.client, run["id"], api=api))["url"] == url
        read = (await ours.client.get(f"{api}/runs/{run['id']}")).json()
        assert read["report"] == {"status": "ready", "url": url}
        [listed] = (await ours.client.get(f"{api}/runs")).json()["items"]
        assert listed["report"]["url"] == url
        index = await ours.client.get(url)
        assert index.status_code == 200, index.text
        assert "<html" in index.text


async def test_another_project_s_report_is_not_found_as_a_missing_run_s(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload(tiny_results("passed"), build_report="true")
    assert (await wait_until_built(theirs.client, theirs_run["id"], api=theirs.api))[
        "status"
    ] == "ready"

    for method, path in (
        ("POST", "/runs/{id}/report"),
        ("GET", "/runs/{id}/report"),
        ("GET", "/runs/{id}/report/index.html"),
    ):
        hidden = await ours.client.request(method, ours.api + path.format(id=theirs_run["id"]))
        missing = await ours.client.request(method, ours.api + path.format(id=UNKNOWN_ID))
        assert_hidden_as_missing(hidden, missing)
    assert (await report_of(theirs.client, theirs_run["id"], api=theirs.api))["status"] == "ready"
