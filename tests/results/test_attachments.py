"""GET /runs/{id}/attachments, GET /attachments/{id} and its /content: the uploaded bytes back."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from tests.results.allure_data import PNG_BYTES, attachment_files, result_file_named
from tests.results.reports_api import tiny_results
from tests.results.results_api import (
    API,
    JSON,
    CreateRun,
    NewProject,
    assert_hidden_as_missing,
    every_item,
)

from testops_kit.testing import assert_problem

UNKNOWN_ID = 2_147_483_647
ATTACHMENT_FIELDS = {
    "id", "run_id", "name", "source", "content_type", "size", "sha256", "created_at",
}  # fmt: skip


@pytest.fixture
async def attachments(client: httpx.AsyncClient, uploaded_run: JSON) -> dict[str, JSON]:
    """The uploaded run's attachments by source file name."""
    items = await every_item(client, f"{API}/runs/{uploaded_run['id']}/attachments")
    return {item["source"]: item for item in items}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_list_answers_every_uploaded_attachment_with_its_size_and_sha256(
    uploaded_run: JSON, attachments: dict[str, JSON], allure_results: Path
) -> None:
    files = {path.name: path.read_bytes() for path in attachment_files(allure_results)}

    assert set(attachments) == set(files)
    for source, attachment in attachments.items():
        assert set(attachment) >= ATTACHMENT_FIELDS, attachment
        assert attachment["run_id"] == uploaded_run["id"]
        assert attachment["size"] == len(files[source]), source
        assert attachment["sha256"] == sha256(files[source]), source
        assert datetime.fromisoformat(attachment["created_at"]).utcoffset() is not None


async def test_list_names_each_attachment_as_the_result_did(
    attachments: dict[str, JSON],
) -> None:
    names = sorted(attachment["name"] for attachment in attachments.values())

    assert names == sorted(
        ["cart screenshot", "cart summary", "receipt", "raw dump", "cart contents", "cart contents"]
    )
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]
    assert (png["name"], png["content_type"]) == ("cart screenshot", "image/png")


async def test_list_pages_follow_the_cursor(
    client: httpx.AsyncClient, uploaded_run: JSON, attachments: dict[str, JSON]
) -> None:
    listed = await every_item(client, f"{API}/runs/{uploaded_run['id']}/attachments", limit=4)

    assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in attachments.values())
    assert len(listed) == len(attachments)


async def test_list_of_an_unknown_run_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/runs/{UNKNOWN_ID}/attachments")

    assert_problem(response, 404, "run_not_found")


async def test_get_answers_the_same_metadata_as_the_listing(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    for attachment in attachments.values():
        response = await client.get(f"{API}/attachments/{attachment['id']}")

        assert response.status_code == 200, response.text
        assert response.json() == attachment


async def test_get_of_an_unknown_attachment_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/attachments/{UNKNOWN_ID}")

    assert_problem(response, 404, "attachment_not_found")


async def test_result_references_point_at_the_listed_attachments(
    client: httpx.AsyncClient,
    uploaded_run: JSON,
    attachments: dict[str, JSON],
    read_result: Callable[[int], Awaitable[JSON]],
) -> None:
    [item] = (
        await client.get(f"{API}/runs/{uploaded_run['id']}/results", params={"q": "pays_with"})
    ).json()["items"]
    result = await read_result(item["id"])

    references = [*result["attachments"]]
    for step in result["steps"]:
        references += step["attachments"] + [a for s in step["steps"] for a in s["attachments"]]

    assert len(references) == 4
    for reference in references:
        listed = attachments[reference["source"]]
        assert reference["id"] == listed["id"]
        assert reference["size"] == listed["size"]
        assert reference["content_type"] == listed["content_type"]


async def test_a_reference_to_a_file_that_was_not_uploaded_has_no_id(
    client: httpx.AsyncClient,
    create_run: CreateRun,
    allure_results: Path,
    read_result: Callable[[int], Awaitable[JSON]],
) -> None:
    run = await create_run([result_file_named(allure_results, "test_pays_with_card")])
    [item] = (await client.get(f"{API}/runs/{run['id']}/results")).json()["items"]

    result = await read_result(item["id"])

    [dump] = result["attachments"]
    assert dump["name"] == "raw dump"
    assert dump["id"] is None
    assert (await client.get(f"{API}/runs/{run['id']}/attachments")).json()["items"] == []


# --- content


async def test_content_of_every_attachment_is_byte_identical_to_the_upload(
    client: httpx.AsyncClient, attachments: dict[str, JSON], allure_results: Path
) -> None:
    for path in attachment_files(allure_results):
        attachment = attachments[path.name]

        response = await client.get(f"{API}/attachments/{attachment['id']}/content")

        assert response.status_code == 200, response.text
        assert sha256(response.content) == sha256(path.read_bytes()), path.name
        assert response.headers["content-length"] == str(path.stat().st_size)
        assert response.headers["etag"] == f'"{attachment["sha256"]}"'
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-disposition"]


async def test_content_answers_the_content_type_of_the_attachment(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]

    response = await client.get(f"{API}/attachments/{png['id']}/content")

    assert response.headers["content-type"] == "image/png"
    assert response.content == PNG_BYTES


async def test_content_with_a_range_answers_206_and_only_those_bytes(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]

    response = await client.get(
        f"{API}/attachments/{png['id']}/content", headers={"Range": "bytes=8-17"}
    )

    assert response.status_code == 206, response.text
    assert response.content == PNG_BYTES[8:18]
    assert response.headers["content-range"] == f"bytes 8-17/{len(PNG_BYTES)}"
    assert response.headers["content-length"] == "10"


async def test_content_with_a_range_of_one_byte_answers_that_byte(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]
    last = len(PNG_BYTES) - 1

    response = await client.get(
        f"{API}/attachments/{png['id']}/content", headers={"Range": f"bytes={last}-{last}"}
    )

    assert response.status_code == 206, response.text
    assert response.content == PNG_BYTES[-1:]
    assert response.headers["content-range"] == f"bytes {last}-{last}/{len(PNG_BYTES)}"


async def test_content_with_a_range_past_the_end_answers_up_to_the_last_byte(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]
    size = len(PNG_BYTES)

    response = await client.get(
        f"{API}/attachments/{png['id']}/content", headers={"Range": f"bytes=100-{size + 500}"}
    )

    assert response.status_code == 206, response.text
    assert response.content == PNG_BYTES[100:]
    assert response.headers["content-range"] == f"bytes 100-{size - 1}/{size}"


async def test_content_with_a_range_starting_past_the_end_is_not_satisfiable(
    client: httpx.AsyncClient, attachments: dict[str, JSON]
) -> None:
    [png] = [a for a in attachments.values() if a["source"].endswith(".png")]
    size = len(PNG_BYTES)

    response = await client.get(
        f"{API}/attachments/{png['id']}/content", headers={"Range": f"bytes={size}-{size + 9}"}
    )

    assert_problem(response, 416, "range_not_satisfiable")


async def test_content_of_an_unknown_attachment_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/attachments/{UNKNOWN_ID}/content")

    assert_problem(response, 404, "attachment_not_found")


# --- projects


async def test_another_project_s_attachments_are_not_found_as_missing_ones(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    theirs_run = await theirs.upload(tiny_results("passed"))
    [attachment] = await theirs.every(f"/runs/{theirs_run['id']}/attachments")

    for hidden_path, missing_path in (
        (f"/runs/{theirs_run['id']}/attachments", f"/runs/{UNKNOWN_ID}/attachments"),
        (f"/attachments/{attachment['id']}", f"/attachments/{UNKNOWN_ID}"),
        (f"/attachments/{attachment['id']}/content", f"/attachments/{UNKNOWN_ID}/content"),
    ):
        assert_hidden_as_missing(await ours.get(hidden_path), await ours.get(missing_path))
    assert (await theirs.get(f"/attachments/{attachment['id']}/content")).status_code == 200


async def test_the_same_bytes_in_two_projects_are_read_by_each_through_its_own_attachment(
    new_project: NewProject,
) -> None:
    ours, theirs = new_project(), new_project()
    files = tiny_results("passed")
    ours_run = await ours.upload(files)
    theirs_run = await theirs.upload(files)
    [mine] = await ours.every(f"/runs/{ours_run['id']}/attachments")
    [their] = await theirs.every(f"/runs/{theirs_run['id']}/attachments")
    assert mine["sha256"] == their["sha256"]
    assert mine["id"] != their["id"]

    await theirs.client.delete(f"{theirs.api}/runs/{theirs_run['id']}")

    content = await ours.get(f"/attachments/{mine['id']}/content")
    assert content.status_code == 200, content.text
    assert content.content == files[1][1]
    assert (await ours.get(f"/attachments/{their['id']}/content")).status_code == 404
