"""A report's history: the earlier runs of the same name, as the Allure 3 CLI shows them."""

from __future__ import annotations

import httpx
from tests.results.reports_api import needs_allure_cli, tiny_results, wait_until_built
from tests.results.results_api import API, JSON, CreateRun, NewProject, new_run_name

pytestmark = needs_allure_cli


async def test_the_report_of_the_third_run_shows_the_two_before_it(
    client: httpx.AsyncClient, create_run: CreateRun
) -> None:
    name = new_run_name()
    other = await create_run(tiny_results("broken"), run_name=f"{name}-other")
    runs = [
        await create_run(tiny_results(status), run_name=name)
        for status in ("failed", "passed", "passed")
    ]
    deleted = await create_run(tiny_results("skipped"), run_name=name)
    assert (await client.delete(f"{API}/runs/{deleted['id']}")).status_code == 204
    assert other["id"] < runs[0]["id"]
    last = await create_run(tiny_results("failed"), run_name=name)

    await client.post(f"{API}/runs/{last['id']}/report")
    assert (await wait_until_built(client, last["id"]))["status"] == "ready"

    base = f"{API}/runs/{last['id']}/report"
    charts: JSON = (await client.get(f"{base}/widgets/charts.json")).json()
    [dynamics] = [c for c in charts["general"].values() if c["type"] == "statusDynamics"]
    assert [point["statistic"] for point in dynamics["data"]] == [
        {"total": 1, "failed": 1},
        {"total": 1, "passed": 1},
        {"total": 1, "passed": 1},
        {"total": 1, "failed": 1},
    ]
    assert {point["name"] for point in dynamics["data"][:-1]} == {name}

    tree = (await client.get(f"{base}/widgets/default/tree.json")).json()
    [result_id] = tree["leavesById"]
    result = (await client.get(f"{base}/data/test-results/{result_id}.json")).json()
    assert [item["status"] for item in result["history"]] == ["passed", "passed", "failed"]


async def test_the_first_run_of_a_name_has_no_history(
    client: httpx.AsyncClient, create_run: CreateRun
) -> None:
    run = await create_run(tiny_results("passed"))

    await client.post(f"{API}/runs/{run['id']}/report")
    await wait_until_built(client, run["id"])

    tree = (await client.get(f"{API}/runs/{run['id']}/report/widgets/default/tree.json")).json()
    [result_id] = tree["leavesById"]
    base = f"{API}/runs/{run['id']}/report/data/test-results"
    assert (await client.get(f"{base}/{result_id}.json")).json()["history"] == []


async def test_a_report_s_history_leaves_out_the_runs_of_the_same_name_in_other_projects(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    name = new_run_name()
    await ours.upload(tiny_results("passed"), run_name=name)
    await theirs.upload(tiny_results("broken"), run_name=name)
    await theirs.upload(tiny_results("skipped"), run_name=name)
    last = await ours.upload(tiny_results("failed"), run_name=name)

    await ours.client.post(f"{ours.api}/runs/{last['id']}/report")
    assert (await wait_until_built(ours.client, last["id"], api=ours.api))["status"] == "ready"

    base = f"{ours.api}/runs/{last['id']}/report"
    charts: JSON = (await ours.client.get(f"{base}/widgets/charts.json")).json()
    [dynamics] = [c for c in charts["general"].values() if c["type"] == "statusDynamics"]
    assert [point["statistic"] for point in dynamics["data"]] == [
        {"total": 1, "passed": 1},
        {"total": 1, "failed": 1},
    ]
    tree = (await ours.client.get(f"{base}/widgets/default/tree.json")).json()
    [result_id] = tree["leavesById"]
    result = (await ours.client.get(f"{base}/data/test-results/{result_id}.json")).json()
    assert [item["status"] for item in result["history"]] == ["passed"]
