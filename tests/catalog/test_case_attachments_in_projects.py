"""/test-cases/{id}/attachments in projects: a case's attachments are reached only through the
case, in its project. Another project's case is 404 on every attachment route, nothing is stored
for an upload to it, and an attachment id is found only under its own case.

Two clients act in two new projects of the catalog on the session's storage, in one path form or
the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.catalog.conftest import created, new_project_key, project_client

from testops_kit.testing import assert_problem

JSON = dict[str, Any]
Unique = Callable[[str], str]
Keys = Callable[[FastAPI], Awaitable[set[str]]]


@pytest.fixture
async def owner(
    attachments_app: FastAPI, attachments_client: httpx.AsyncClient, path_form: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with project_client(attachments_app, new_project_key(), path_form) as client:
        yield client


@pytest.fixture
async def stranger(
    attachments_app: FastAPI, attachments_client: httpx.AsyncClient, path_form: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with project_client(attachments_app, new_project_key(), path_form) as client:
        yield client


async def attached(client: httpx.AsyncClient, unique: Unique, content: bytes) -> JSON:
    """A new case of the client's project with one attachment; the attachment."""
    case = await created(client, "/test-cases", {"name": unique("case")})
    response = await client.post(
        f"/test-cases/{case['id']}/attachments", files={"file": ("run.log", content)}
    )
    assert response.status_code == 201, response.text
    attachment: JSON = response.json()
    return attachment


async def test_the_attachments_of_another_projects_case_are_404_on_every_route(
    owner: httpx.AsyncClient,
    stranger: httpx.AsyncClient,
    attachments_app: FastAPI,
    object_keys: Keys,
    unique: Unique,
) -> None:
    attachment = await attached(owner, unique, b"the owner's log\n")
    case_path = f"/test-cases/{attachment['test_case_id']}/attachments"
    path = f"{case_path}/{attachment['id']}"
    keys_before = await object_keys(attachments_app)

    answers = [
        await stranger.post(case_path, files={"file": ("x.txt", b"planted")}),
        await stranger.get(case_path),
        await stranger.get(path),
        await stranger.get(f"{path}/content"),
        await stranger.delete(path),
    ]

    for answer in answers:
        assert_problem(answer, 404, "test_case_not_found")
    assert await object_keys(attachments_app) == keys_before
    listed = await owner.get(case_path)
    assert listed.json()["items"] == [attachment]
    content = await owner.get(f"{path}/content")
    assert content.content == b"the owner's log\n"


async def test_an_attachment_is_found_only_under_its_own_case(
    owner: httpx.AsyncClient, stranger: httpx.AsyncClient, unique: Unique
) -> None:
    foreign = await attached(owner, unique, b"foreign\n")
    own = await attached(stranger, unique, b"own\n")
    path = f"/test-cases/{own['test_case_id']}/attachments/{foreign['id']}"

    for answer in (
        await stranger.get(path),
        await stranger.get(f"{path}/content"),
        await stranger.delete(path),
    ):
        assert_problem(answer, 404, "attachment_not_found")
    listed = await stranger.get(f"/test-cases/{own['test_case_id']}/attachments")
    assert listed.json()["items"] == [own]


async def test_upload_answers_the_location_in_the_path_form_it_was_asked_in(
    owner: httpx.AsyncClient, unique: Unique
) -> None:
    case = await created(owner, "/test-cases", {"name": unique("case")})

    response = await owner.post(
        f"/test-cases/{case['id']}/attachments", files={"file": ("run.log", b"line\n")}
    )

    assert response.status_code == 201, response.text
    root = owner.base_url.raw_path.decode().rstrip("/")
    expected = f"{root}/test-cases/{case['id']}/attachments/{response.json()['id']}"
    assert response.headers["Location"] == expected
    again = await owner.get(f"http://testserver{expected}")
    assert again.json() == response.json()
