"""POST /runs/{id}/files: more shards of a run's files; the stats count them all together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from tests.results.allure_data import (
    ExpectedRun,
    container_files,
    expected_run,
    result_file_named,
    result_files,
    zip_with,
)
from tests.results.results_api import (
    API,
    JSON,
    CreateRun,
    NewProject,
    Stored,
    Upload,
    assert_hidden_as_missing,
    folder_files,
    form_files,
)

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647
FLAKY = "test_flaky_passes_on_second_try"


async def add_files(client: httpx.AsyncClient, run_id: int, files: list[Upload]) -> httpx.Response:
    return await client.post(f"{API}/runs/{run_id}/files", files=form_files(files))


async def add_shard(client: httpx.AsyncClient, run_id: int, files: list[Upload]) -> JSON:
    response = await add_files(client, run_id, files)
    assert response.status_code == 200, response.text
    run: JSON = response.json()
    return run


def split(files: list[Path], parts: int) -> list[list[Path]]:
    return [files[index::parts] for index in range(parts)]


async def test_shards_of_a_run_give_the_same_stats_as_one_upload(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    expected: ExpectedRun,
    run_results: Callable[..., Awaitable[list[JSON]]],
) -> None:
    first, *rest = split(folder_files(allure_results), 3)
    run = await create_run(first)

    for shard in rest:
        run = await add_shard(client, run["id"], list(shard))

    assert run["stats"] == expected.stats
    assert run["status"] == expected.status
    fetched = await client.get(f"{API}/runs/{run['id']}")
    assert fetched.json() == run
    everything = await run_results(run["id"], include_retries="true")
    assert len(everything) == len(result_files(allure_results))


async def test_a_shard_answers_the_updated_run_with_the_stats_of_all_shards_so_far(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    first, second = split(result_files(allure_results), 2)
    run = await create_run(first)
    assert run["stats"] == expected_run(first).stats

    updated = await add_shard(client, run["id"], list(second))

    assert updated["id"] == run["id"]
    assert updated["name"] == run["name"]
    assert updated["stats"] == expected_run([*first, *second]).stats


async def test_a_later_attempt_in_a_later_shard_turns_the_earlier_one_into_a_retry(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    expected: ExpectedRun,
    run_results: Callable[..., Awaitable[list[JSON]]],
) -> None:
    last_attempt = result_file_named(allure_results, FLAKY)
    others = [path for path in result_files(allure_results) if path != last_attempt]
    run = await create_run(others)
    assert run["stats"] == expected_run(others).stats
    assert run["stats"]["retries"] == 1  # only always_fails, flaky has one (failed) attempt

    run = await add_shard(client, run["id"], [last_attempt])

    assert run["stats"] == expected.stats
    flaky = await run_results(run["id"], q=FLAKY, include_retries="true")
    assert sorted((r["status"], r["is_retry"]) for r in flaky) == [
        ("failed", True),
        ("passed", False),
    ]


async def test_an_earlier_attempt_in_a_later_shard_arrives_as_a_retry(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    expected: ExpectedRun,
    run_results: Callable[..., Awaitable[list[JSON]]],
) -> None:
    first_attempt = result_file_named(allure_results, FLAKY, attempt=0)
    others = [path for path in result_files(allure_results) if path != first_attempt]
    run = await create_run(others)

    run = await add_shard(client, run["id"], [first_attempt])

    assert run["stats"] == expected.stats
    [counted] = await run_results(run["id"], q=FLAKY)
    assert (counted["status"], counted["is_retry"]) == ("passed", False)


async def test_a_shard_may_be_an_archive(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    expected: ExpectedRun,
    tmp_path: Path,
) -> None:
    files = folder_files(allure_results)
    run = await create_run(files[:3])

    run = await add_shard(
        client,
        run["id"],
        [zip_with(tmp_path / "rest.zip", {path.name: path.read_bytes() for path in files[3:]})],
    )

    assert run["stats"] == expected.stats


async def test_a_shard_for_an_unknown_run_is_not_found(
    client: httpx.AsyncClient, allure_results: Path
) -> None:
    response = await add_files(client, UNKNOWN_ID, result_files(allure_results)[:1])

    assert_problem(response, 404, "run_not_found")


async def test_a_shard_without_files_is_rejected_and_leaves_the_run_alone(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(result_files(allure_results)[:2])
    boundary = "b0undary"
    body = f"--{boundary}--\r\n".encode()

    response = await client.post(
        f"{API}/runs/{run['id']}/files",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )

    assert_problem(response, 422, "no_files")
    assert (await client.get(f"{API}/runs/{run['id']}")).json() == run


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (("empty-result.json", b""), "empty_file"),
        (("../evil-result.json", b"{}"), "unsafe_path"),
        (("x.zip", b"PK\x03\x04 not really"), "invalid_archive"),
    ],
    ids=["empty", "unsafe", "invalid-archive"],
)
async def test_a_refused_shard_leaves_the_run_and_the_storage_as_they_were(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    stored: Callable[[], Awaitable[Stored]],
    bad: tuple[str, bytes],
    code: str,
) -> None:
    run = await create_run(result_files(allure_results)[:2])
    before = await stored()
    rest = [*result_files(allure_results)[2:], *container_files(allure_results)]
    files: list[Upload] = [bad] if bad[0].endswith(".zip") else [*rest, bad]

    response = await add_files(client, run["id"], files)

    assert_problem(response, 422, code)
    assert await stored() == before
    assert (await client.get(f"{API}/runs/{run['id']}")).json() == run


async def test_a_refused_archive_shard_keeps_nothing_of_it(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    stored: Callable[[], Awaitable[Stored]],
    tmp_path: Path,
) -> None:
    run = await create_run(result_files(allure_results)[:2])
    before = await stored()
    members = {path.name: path.read_bytes() for path in folder_files(allure_results)}
    archive = zip_with(tmp_path / "r.zip", {**members, "../evil-attachment.txt": b"x"})

    response = await add_files(client, run["id"], [archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before
    assert (await client.get(f"{API}/runs/{run['id']}")).json() == run


# --- projects


async def test_a_shard_for_another_project_s_run_is_not_found_and_adds_nothing(
    new_project: NewProject, allure_results: Path
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload([result_file_named(allure_results, "test_pays_with_card")])
    shard = form_files([result_file_named(allure_results, "test_total_is_wrong")])

    hidden = await ours.client.post(f"{ours.api}/runs/{theirs_run['id']}/files", files=shard)

    missing = await ours.client.post(f"{ours.api}/runs/{UNKNOWN_ID}/files", files=shard)
    assert_hidden_as_missing(hidden, missing)
    assert (await theirs.get(f"/runs/{theirs_run['id']}")).json() == theirs_run


async def test_a_shard_lands_in_the_run_of_the_project_it_is_posted_in(
    new_project: NewProject, allure_results: Path
) -> None:
    ours = new_project()
    run = await ours.upload([result_file_named(allure_results, "test_pays_with_card")])
    shard = form_files([result_file_named(allure_results, "test_total_is_wrong")])

    response = await ours.client.post(f"{ours.api}/runs/{run['id']}/files", files=shard)

    assert response.status_code == 200, response.text
    assert response.json()["stats"]["total"] == 2
    names = {r["name"] for r in await ours.every(f"/runs/{run['id']}/results")}
    assert names == {"test_pays_with_card", "test_total_is_wrong"}
