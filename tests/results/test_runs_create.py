"""POST /runs: a run from loose allure-results files or from one archive of them."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from tests.results.allure_data import (
    ENVIRONMENT,
    EXECUTOR,
    ExpectedRun,
    attachment_files,
    expected_run,
    link_member,
    lying_zip_bomb,
    result_file_named,
    result_files,
    tar_gz_folder,
    tar_gz_with,
    zip_folder,
    zip_with,
)
from tests.results.results_api import (
    API,
    JSON,
    SMALL_MAX_ARCHIVE_BYTES,
    SMALL_MAX_ARCHIVE_MEMBERS,
    SMALL_MAX_UPLOAD_FILES,
    CreateRun,
    NewProject,
    PostRun,
    Stored,
    folder_files,
    new_run_name,
    post_run_with,
)

from testops_kit.testing import assert_problem

StoredProbe = Callable[[], Awaitable[Stored]]


def assert_run_matches(run: JSON, expected: ExpectedRun) -> None:
    """The run's stats, status and timings are what Allure 3 makes of the same files."""
    assert run["stats"] == expected.stats
    assert run["status"] == expected.status
    assert expected.started_at is not None
    assert expected.finished_at is not None
    assert datetime.fromisoformat(run["started_at"]) == expected.started_at
    assert datetime.fromisoformat(run["finished_at"]) == expected.finished_at
    assert run["duration_ms"] == expected.duration_ms


def multipart_without_files(fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body with only form fields (httpx would send those url-encoded)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return "".join(
        [*parts, f"--{boundary}--\r\n"]
    ).encode(), f"multipart/form-data; boundary={boundary}"


# --- accepted uploads


async def test_create_from_loose_files_answers_201_with_location_and_the_run(
    client: httpx.AsyncClient, post_run: PostRun, allure_results: Path, expected: ExpectedRun
) -> None:
    response = await post_run(folder_files(allure_results), run_name="nightly loose")

    assert response.status_code == 201, response.text
    run = response.json()
    assert response.headers["location"] == f"{API}/runs/{run['id']}"
    assert run["name"] == "nightly loose"
    assert_run_matches(run, expected)
    assert run["source"] == "upload"
    assert run["execution_id"] is None
    assert (run["branch"], run["commit"], run["ci_url"]) == (None, None, None)
    assert run["is_deleted"] is False
    assert run["deleted_at"] is None
    assert run["warnings"] == []
    assert run["report"] == {"status": "none", "url": None}
    assert datetime.fromisoformat(run["created_at"]).utcoffset() is not None
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == run


async def test_create_stats_count_tests_not_files_with_the_latest_attempt_counting(
    uploaded_run: JSON, expected: ExpectedRun
) -> None:
    assert_run_matches(uploaded_run, expected)
    assert uploaded_run["stats"]["total"] == 11
    assert uploaded_run["stats"]["retries"] == 2
    assert uploaded_run["stats"]["retry_attempts"] == 2
    assert uploaded_run["status"] == "failed"


async def test_create_keeps_environment_properties_and_executor_json(uploaded_run: JSON) -> None:
    assert uploaded_run["environment"] == ENVIRONMENT
    assert uploaded_run["executor"] == EXECUTOR


async def test_create_without_executor_json_has_a_null_executor_and_empty_environment(
    create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(result_files(allure_results))

    assert run["executor"] is None
    assert run["environment"] == {}


async def test_create_from_a_zip_archive_equals_the_loose_upload(
    create_run: CreateRun, allure_results: Path, expected: ExpectedRun, tmp_path: Path
) -> None:
    archive = zip_folder(allure_results, tmp_path / "allure-results.zip")

    run = await create_run([archive])

    assert_run_matches(run, expected)
    assert run["environment"] == ENVIRONMENT
    assert run["executor"] == EXECUTOR
    assert run["warnings"] == []


@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz"])
async def test_create_from_a_tar_gz_archive_under_a_top_folder_equals_the_loose_upload(
    create_run: CreateRun,
    allure_results: Path,
    expected: ExpectedRun,
    tmp_path: Path,
    suffix: str,
) -> None:
    archive = tar_gz_folder(allure_results, tmp_path / f"results{suffix}", top="allure-results")

    run = await create_run([archive])

    assert_run_matches(run, expected)
    assert run["environment"] == ENVIRONMENT
    assert run["executor"] == EXECUTOR


@pytest.mark.parametrize("top", ["allure-results", "build/allure-results"])
async def test_create_from_a_zip_with_the_files_in_a_sub_folder_equals_the_loose_upload(
    create_run: CreateRun, allure_results: Path, expected: ExpectedRun, tmp_path: Path, top: str
) -> None:
    archive = zip_folder(allure_results, tmp_path / "r.zip", top=top)

    run = await create_run([archive])

    assert_run_matches(run, expected)
    assert run["executor"] == EXECUTOR


async def test_create_from_an_archive_stores_every_attachment_and_result(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path, tmp_path: Path
) -> None:
    run = await create_run([tar_gz_folder(allure_results, tmp_path / "r.tar.gz")])

    results = await client.get(f"{API}/runs/{run['id']}/results", params={"limit": 500})
    attachments = await client.get(f"{API}/runs/{run['id']}/attachments", params={"limit": 500})
    assert results.status_code == attachments.status_code == 200
    assert len(results.json()["items"]) == 11
    sources = {a["source"] for a in attachments.json()["items"]}
    assert sources == {path.name for path in attachment_files(allure_results)}


async def test_create_keeps_branch_commit_and_ci_url(
    create_run: CreateRun, allure_results: Path
) -> None:
    fields = {"branch": "feature/pay", "commit": "0" * 40, "ci_url": "https://ci.example.com/7"}

    run = await create_run([result_file_named(allure_results, "test_pays_with_card")], **fields)

    assert (run["branch"], run["commit"], run["ci_url"]) == tuple(fields.values())


async def test_create_with_an_execution_id_marks_the_run_as_from_an_execution(
    create_run: CreateRun, allure_results: Path
) -> None:
    execution_id = str(uuid.uuid4())

    run = await create_run(
        [result_file_named(allure_results, "test_pays_with_card")], execution_id=execution_id
    )

    assert run["source"] == "execution"
    assert run["execution_id"] == execution_id


async def test_create_with_an_execution_id_that_is_not_a_uuid_is_rejected(
    post_run: PostRun, allure_results: Path, stored: Callable[[], Awaitable[Stored]]
) -> None:
    before = await stored()

    response = await post_run(
        [result_file_named(allure_results, "test_pays_with_card")], execution_id="exec-7"
    )

    assert_problem(response, 422, "validation_error")
    assert await stored() == before


async def test_create_skips_a_result_that_is_not_json_and_names_it_in_warnings(
    create_run: CreateRun, allure_results: Path
) -> None:
    broken = ("0000-broken-result.json", b'{"name": "cut short", "status": "pas')
    files = folder_files(allure_results)

    run = await create_run([*files, broken])

    assert_run_matches(run, expected_run(allure_results))
    [warning] = run["warnings"]
    assert warning["file"] == "0000-broken-result.json"
    assert warning["message"]


async def test_create_skips_a_container_that_is_not_json_and_names_it_in_warnings(
    create_run: CreateRun, allure_results: Path
) -> None:
    broken = ("0000-broken-container.json", b"\x00\xff not json")

    run = await create_run([*folder_files(allure_results), broken])

    assert_run_matches(run, expected_run(allure_results))
    assert [w["file"] for w in run["warnings"]] == ["0000-broken-container.json"]


async def test_create_skips_a_result_that_is_json_but_not_an_allure_result(
    create_run: CreateRun, allure_results: Path
) -> None:
    not_a_result = ("0000-list-result.json", b"[1, 2, 3]")

    run = await create_run([*result_files(allure_results), not_a_result])

    assert_run_matches(run, expected_run(allure_results))
    assert [w["file"] for w in run["warnings"]] == ["0000-list-result.json"]


async def test_create_with_warnings_keeps_them_on_the_stored_run(
    client: httpx.AsyncClient, create_run: CreateRun, allure_results: Path
) -> None:
    run = await create_run(
        [result_file_named(allure_results, "test_pays_with_card"), ("x-result.json", b"{")]
    )

    fetched = await client.get(f"{API}/runs/{run['id']}")

    assert fetched.json()["warnings"] == run["warnings"]
    assert [w["file"] for w in run["warnings"]] == ["x-result.json"]


async def test_create_with_exactly_the_file_limit_is_accepted(
    small_client: httpx.AsyncClient, allure_results: Path
) -> None:
    files = result_files(allure_results)[:SMALL_MAX_UPLOAD_FILES]

    response = await post_run_with(small_client, files)

    assert response.status_code == 201, response.text
    assert response.json()["stats"] == expected_run(files).stats


# --- refused uploads: an answer naming the fault, and nothing kept


async def test_create_without_a_run_name_is_rejected(
    client: httpx.AsyncClient, allure_results: Path, stored: StoredProbe
) -> None:
    before = await stored()

    response = await client.post(
        f"{API}/runs",
        files=[("files", ("a-result.json", result_files(allure_results)[0].read_bytes()))],
    )

    assert_problem(response, 422, "validation_error")
    assert await stored() == before


async def test_create_with_a_blank_run_name_is_rejected(
    post_run: PostRun, allure_results: Path, stored: StoredProbe
) -> None:
    before = await stored()

    response = await post_run(result_files(allure_results)[:1], run_name="  \t ")

    assert_problem(response, 422, "validation_error")
    assert await stored() == before


async def test_create_without_files_is_rejected_as_no_files(
    client: httpx.AsyncClient, stored: StoredProbe
) -> None:
    before = await stored()
    body, content_type = multipart_without_files({"run_name": "nothing"})

    response = await client.post(
        f"{API}/runs", content=body, headers={"content-type": content_type}
    )

    assert_problem(response, 422, "no_files")
    assert await stored() == before


async def test_create_with_an_empty_file_among_good_ones_is_rejected_naming_it(
    post_run: PostRun, allure_results: Path, stored: StoredProbe
) -> None:
    before = await stored()

    response = await post_run([*folder_files(allure_results), ("empty-result.json", b"")])

    problem = assert_problem(response, 422, "empty_file")
    assert "empty-result.json" in problem["detail"]
    assert await stored() == before


@pytest.mark.parametrize("name", ["results.zip", "results.tar.gz"])
async def test_create_with_an_empty_archive_is_rejected_naming_it(
    post_run: PostRun, stored: StoredProbe, name: str
) -> None:
    before = await stored()

    response = await post_run([(name, b"")])

    problem = assert_problem(response, 422, "empty_file")
    assert name in problem["detail"]
    assert await stored() == before


@pytest.mark.parametrize("name", ["../x-result.json", "/x-result.json", "a/x-result.json", ".."])
async def test_create_with_a_path_in_a_file_name_is_rejected_as_unsafe(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, name: str
) -> None:
    before = await stored()
    content = result_file_named(allure_results, "test_pays_with_card").read_bytes()

    response = await post_run([*result_files(allure_results), (name, content)])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


async def test_create_with_a_zip_member_climbing_out_is_rejected_as_unsafe(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, tmp_path: Path
) -> None:
    before = await stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    archive = zip_with(
        tmp_path / "r.zip", {good.name: good.read_bytes(), "../evil-result.json": b"{}"}
    )

    response = await post_run([archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


async def test_create_with_an_absolute_zip_member_is_rejected_as_unsafe(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, tmp_path: Path
) -> None:
    before = await stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    archive = zip_with(tmp_path / "r.zip", {good.name: good.read_bytes(), "/tmp/evil.txt": b"x"})

    response = await post_run([archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


async def test_create_with_a_tar_member_at_an_absolute_path_is_rejected_as_unsafe(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, tmp_path: Path
) -> None:
    before = await stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    archive = tar_gz_with(
        tmp_path / "r.tar.gz",
        [(good.name, good.read_bytes()), ("/etc/evil-result.json", b"{}")],
    )

    response = await post_run([archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


async def test_create_with_a_tar_member_climbing_out_is_rejected_as_unsafe(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, tmp_path: Path
) -> None:
    before = await stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    archive = tar_gz_with(
        tmp_path / "r.tar.gz",
        [(good.name, good.read_bytes()), ("results/../../evil-result.json", b"{}")],
    )

    response = await post_run([archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


@pytest.mark.parametrize(
    ("target", "hard"),
    [("/etc/passwd", False), ("../outside.txt", False), ("../../etc/passwd", True)],
    ids=["symlink-absolute", "symlink-relative", "hardlink"],
)
async def test_create_with_a_tar_link_member_is_rejected_as_unsafe(
    post_run: PostRun,
    allure_results: Path,
    stored: StoredProbe,
    tmp_path: Path,
    target: str,
    hard: bool,
) -> None:
    before = await stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    archive = tar_gz_with(
        tmp_path / "r.tar.gz",
        [(good.name, good.read_bytes()), link_member("x-attachment.txt", target, hard=hard)],
    )

    response = await post_run([archive])

    assert_problem(response, 422, "unsafe_path")
    assert await stored() == before


@pytest.mark.parametrize("name", ["x.zip", "x.tar.gz", "x.tgz"])
async def test_create_with_random_bytes_named_as_an_archive_is_rejected_as_invalid(
    post_run: PostRun, stored: StoredProbe, name: str
) -> None:
    before = await stored()

    response = await post_run([(name, os.urandom(4096))])

    assert_problem(response, 422, "invalid_archive")
    assert await stored() == before


async def test_create_with_a_truncated_zip_is_rejected_as_invalid(
    post_run: PostRun, allure_results: Path, stored: StoredProbe, tmp_path: Path
) -> None:
    before = await stored()
    whole = zip_folder(allure_results, tmp_path / "r.zip").read_bytes()

    response = await post_run([("r.zip", whole[: len(whole) // 2])])

    assert_problem(response, 422, "invalid_archive")
    assert await stored() == before


async def test_create_with_more_files_than_the_limit_is_too_large(
    small_client: httpx.AsyncClient,
    small_stored: StoredProbe,
    allure_results: Path,
) -> None:
    before = await small_stored()

    response = await post_run_with(
        small_client, result_files(allure_results)[: SMALL_MAX_UPLOAD_FILES + 1]
    )

    assert_problem(response, 413, "upload_too_large")
    assert await small_stored() == before


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
async def test_create_with_an_archive_of_more_members_than_the_limit_is_too_large(
    small_client: httpx.AsyncClient,
    small_stored: StoredProbe,
    allure_results: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    before = await small_stored()
    members = {p.name: p.read_bytes() for p in result_files(allure_results)}
    assert len(members) > SMALL_MAX_ARCHIVE_MEMBERS
    path = tmp_path / f"r.{kind}"
    archive = zip_with(path, members) if kind == "zip" else tar_gz_with(path, members.items())

    response = await post_run_with(small_client, [archive])

    assert_problem(response, 413, "upload_too_large")
    assert await small_stored() == before


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
async def test_create_with_an_archive_inflating_past_the_byte_limit_is_too_large(
    small_client: httpx.AsyncClient,
    small_stored: StoredProbe,
    allure_results: Path,
    tmp_path: Path,
    kind: str,
) -> None:
    before = await small_stored()
    good = result_file_named(allure_results, "test_pays_with_card")
    # Zeros compress to almost nothing: a small upload that unpacks to 16 times the limit.
    members = {
        good.name: good.read_bytes(),
        "bomb-attachment.bin": bytes(16 * SMALL_MAX_ARCHIVE_BYTES),
    }
    path = tmp_path / f"r.{kind}"
    archive = zip_with(path, members) if kind == "zip" else tar_gz_with(path, members.items())
    assert archive.stat().st_size < SMALL_MAX_ARCHIVE_BYTES

    response = await post_run_with(small_client, [archive])

    assert_problem(response, 413, "upload_too_large")
    assert await small_stored() == before


async def test_create_with_an_archive_whose_members_together_pass_the_byte_limit_is_too_large(
    small_client: httpx.AsyncClient, small_stored: StoredProbe, tmp_path: Path
) -> None:
    before = await small_stored()
    share = SMALL_MAX_ARCHIVE_BYTES // 3 + 1  # each under the limit, the four of them over it
    archive = zip_with(tmp_path / "r.zip", {f"{i}-attachment.bin": bytes(share) for i in range(4)})

    response = await post_run_with(small_client, [archive])

    assert_problem(response, 413, "upload_too_large")
    assert await small_stored() == before


async def test_create_with_a_zip_lying_about_its_sizes_is_refused(
    small_client: httpx.AsyncClient, small_stored: StoredProbe, tmp_path: Path
) -> None:
    """A member declaring 100 bytes that inflates past the limit is a bomb or a broken file.

    Which of the two answers the service gives is its choice; it must not unpack it, keep it,
    or fail with a 5xx.
    """
    before = await small_stored()
    archive = lying_zip_bomb(
        tmp_path / "r.zip",
        name="bomb-attachment.bin",
        actual=16 * SMALL_MAX_ARCHIVE_BYTES,
        declared=100,
    )

    response = await post_run_with(small_client, [archive])

    assert (response.status_code, response.json()["code"]) in {
        (413, "upload_too_large"),
        (422, "invalid_archive"),
    }, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await small_stored() == before


async def test_create_refused_after_good_files_keeps_no_part_of_them(
    client: httpx.AsyncClient, post_run: PostRun, allure_results: Path, stored: StoredProbe
) -> None:
    """The bad file comes last, after every good result and attachment was already sent."""
    before = await stored()
    name = f"atomic-{uuid.uuid4().hex[:8]}"

    response = await post_run(
        [*folder_files(allure_results), ("z-last-result.json", b"")], run_name=name
    )

    assert_problem(response, 422, "empty_file")
    assert await stored() == before
    listing = await client.get(f"{API}/runs", params={"name": name, "deleted": "include"})
    assert listing.json()["items"] == []


async def test_create_answers_problem_json_for_a_body_that_is_not_multipart(
    client: httpx.AsyncClient, stored: StoredProbe
) -> None:
    before = await stored()

    response = await client.post(f"{API}/runs", content=json.dumps({"run_name": "x"}))

    assert_problem(response, 422, "validation_error")
    assert await stored() == before


async def flaky_by_name(
    run_results: Callable[..., Awaitable[list[JSON]]], run: JSON
) -> dict[str, bool]:
    return {item["name"]: item["flaky"] for item in await run_results(run["id"])}


async def test_create_marks_flaky_the_test_that_flipped_in_the_runs_of_its_name(
    create_run: CreateRun,
    run_results: Callable[..., Awaitable[list[JSON]]],
    flips_failing: Path,
    flips_passing: Path,
) -> None:
    name = new_run_name()
    older = await create_run(folder_files(flips_failing), run_name=name)
    newer = await create_run(folder_files(flips_passing), run_name=name)

    before, after = await flaky_by_name(run_results, older), await flaky_by_name(run_results, newer)

    # At its upload the older run had no earlier run to flip from.
    assert before["test_flips"] is False
    assert after["test_flips"] is True
    assert before["test_passes_on_rerun"] is after["test_passes_on_rerun"] is True
    for stable in ("test_stable", "test_totals", "test_loads_fixture[0]"):
        assert before[stable] is after[stable] is False, stable


async def test_create_does_not_mark_a_flip_across_run_names(
    create_run: CreateRun,
    run_results: Callable[..., Awaitable[list[JSON]]],
    flips_failing: Path,
    flips_passing: Path,
) -> None:
    await create_run(folder_files(flips_failing), run_name=new_run_name())
    other = await create_run(folder_files(flips_passing), run_name=new_run_name())

    assert (await flaky_by_name(run_results, other))["test_flips"] is False


# --- projects


async def test_an_upload_lands_in_the_project_it_is_posted_in(
    new_project: NewProject, allure_results: Path, client: httpx.AsyncClient
) -> None:
    ours, theirs = new_project(), new_project()
    files = [result_file_named(allure_results, "test_pays_with_card")]

    response = await post_run_with(ours.client, files, api=ours.api)

    assert response.status_code == 201, response.text
    run = response.json()
    assert response.headers["Location"] == f"{ours.api}/runs/{run['id']}"
    read = await ours.client.get(response.headers["Location"])
    assert read.json() == run
    assert [r["id"] for r in await ours.every("/runs")] == [run["id"]]
    assert await theirs.every("/runs") == []
    assert_problem(await client.get(f"{API}/runs/{run['id']}"), 404, "run_not_found")


async def test_an_upload_under_a_project_key_that_is_not_the_principal_s_keeps_nothing(
    client: httpx.AsyncClient, allure_results: Path, stored: StoredProbe
) -> None:
    before = await stored()

    response = await post_run_with(
        client,
        [result_file_named(allure_results, "test_pays_with_card")],
        api=f"{API}/projects/SHOP",
    )

    assert_problem(response, 404, "project_not_found")
    assert await stored() == before
