"""Optimistic concurrency: If-Match against a resource's version."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Response

from testops_kit.errors import PreconditionFailed
from testops_kit.etag import IfMatch, check_if_match, etag_for
from testops_kit.testing import app_client, assert_problem

CURRENT_VERSION = 3

router = APIRouter()


@router.patch("/things/1")
async def update_thing(response: Response, if_match: IfMatch = None) -> dict[str, int]:
    check_if_match(if_match, CURRENT_VERSION)
    response.headers["ETag"] = etag_for(CURRENT_VERSION + 1)
    return {"version": CURRENT_VERSION + 1}


@pytest.fixture
async def client(build_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(build_app(router)) as client:
        yield client


def passes(if_match: str | None, version: int = 3) -> bool:
    """Whether ``if_match`` lets a change of ``version`` through."""
    try:
        check_if_match(if_match, version)
    except PreconditionFailed:
        return False
    return True


def test_etag_for_is_the_quoted_version() -> None:
    assert etag_for(3) == '"3"'


def test_no_if_match_passes() -> None:
    assert passes(None)


def test_a_star_passes_whatever_the_version() -> None:
    assert passes("*")
    assert passes('"1", *')


@pytest.mark.parametrize("tag", ['"3"', 'W/"3"', ' "3" '], ids=["strong", "weak", "padded"])
def test_a_tag_naming_the_current_version_passes(tag: str) -> None:
    assert passes(tag)


@pytest.mark.parametrize("tags", ['"1", "3"', '"3","4"', 'W/"2", W/"3"', '"1",,"3"'])
def test_a_list_containing_the_current_version_passes(tags: str) -> None:
    assert passes(tags)


@pytest.mark.parametrize("stale", ['"2"', 'W/"4"', '"1", "2"', '"33"', '"03"'])
def test_a_stale_tag_is_412_precondition_failed(stale: str) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        check_if_match(stale, 3)

    assert raised.value.status_code == 412
    assert raised.value.code == "precondition_failed"
    assert '"3"' in raised.value.detail
    assert stale in raised.value.detail


async def test_a_request_with_the_current_if_match_goes_through(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/things/1", headers={"If-Match": '"3"'})

    assert response.status_code == 200
    assert response.headers["ETag"] == '"4"'


async def test_a_request_without_if_match_goes_through(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/things/1")

    assert response.status_code == 200


async def test_a_request_with_a_stale_if_match_is_answered_412_problem_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.patch("/api/v1/things/1", headers={"If-Match": '"2"'})

    body = assert_problem(response, 412, "precondition_failed")
    assert body["title"] == "Precondition failed"
