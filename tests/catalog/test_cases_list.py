from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from testops_kit.testing import assert_problem

API = "/api/v1/test-cases"
UNKNOWN_ID = 2_147_483_647  # the largest id there is; no test database gets that far

JSON = dict[str, Any]
Unique = Callable[[str], str]
Factory = Callable[..., Awaitable[JSON]]

# How each ordering sorts a listed case, and whether it is descending.
ORDERINGS: dict[str, tuple[Callable[[JSON], tuple[Any, ...]], bool]] = {
    "id": (lambda case: (case["id"],), False),
    "-id": (lambda case: (case["id"],), True),
    "name": (lambda case: (case["name"], case["id"]), False),
    "-updated_at": (lambda case: (datetime.fromisoformat(case["updated_at"]), case["id"]), True),
}


async def listing(client: httpx.AsyncClient, **params: Any) -> JSON:
    response = await client.get(API, params=params)
    assert response.status_code == 200, response.text
    page: JSON = response.json()
    return page


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    return [case["id"] for case in (await listing(client, **params))["items"]]


async def every_page(client: httpx.AsyncClient, **params: Any) -> list[list[JSON]]:
    """Follow ``next_cursor`` from the first page to the last."""
    pages, cursor = [], None
    while True:
        page = await listing(client, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def crafted_cursor(ordering: str, keys: list[Any]) -> str:
    """A cursor a client made up: well-formed like a real one, with values of its choosing."""
    raw = json.dumps({"o": ordering, "k": keys}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- shape and filters


async def test_list_answers_items_and_a_null_next_cursor_on_the_only_page(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("shape")
    case = await create_case(tags=[tag], steps=[{"action": "a"}])

    page = await listing(client, tag=tag)

    assert page == {"items": [case], "next_cursor": None}


async def test_list_excludes_deleted_cases_by_default(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("deleted")
    active, deleted = await create_case(tags=[tag]), await create_case(tags=[tag])
    assert (await client.delete(f"{API}/{deleted['id']}")).status_code == 204

    assert await ids(client, tag=tag) == [active["id"]]
    assert await ids(client, tag=tag, deleted="exclude") == [active["id"]]


async def test_list_with_deleted_only_shows_just_the_deleted_cases(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("deleted")
    await create_case(tags=[tag])
    deleted = await create_case(tags=[tag])
    assert (await client.delete(f"{API}/{deleted['id']}")).status_code == 204

    [item] = (await listing(client, tag=tag, deleted="only"))["items"]

    assert item["id"] == deleted["id"]
    assert item["is_deleted"] is True
    assert item["deleted_at"] is not None
    assert item["version"] == 2


async def test_list_with_deleted_include_shows_active_and_deleted_cases(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("deleted")
    active, deleted = await create_case(tags=[tag]), await create_case(tags=[tag])
    assert (await client.delete(f"{API}/{deleted['id']}")).status_code == 204

    assert await ids(client, tag=tag, deleted="include") == [active["id"], deleted["id"]]


async def test_list_with_q_finds_the_name_whatever_the_case(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    marker = unique("needle")
    case = await create_case(name=f"Login {marker.upper()} works")

    assert await ids(client, q=marker) == [case["id"]]
    assert await ids(client, q=f"lOGIN {marker}") == [case["id"]]


async def test_list_with_q_finds_the_description_whatever_the_case(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    marker = unique("needle")
    case = await create_case(description=f"Checks that {marker.upper()} is shown")

    assert await ids(client, q=marker.title()) == [case["id"]]


async def test_list_with_q_ignores_preconditions_and_steps(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    marker = unique("elsewhere")
    await create_case(preconditions=marker, expected_result=marker, steps=[{"action": marker}])

    assert await ids(client, q=marker) == []


@pytest.mark.parametrize("wildcard", ["%", "_", "\\", "[a]"])
async def test_list_with_q_takes_like_wildcards_literally(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory, wildcard: str
) -> None:
    marker = unique("literal")
    literal = await create_case(name=f"{marker} a{wildcard}b")
    await create_case(name=f"{marker} axb")
    await create_case(name=f"{marker} a{wildcard}{wildcard}b-other")

    assert await ids(client, q=f"{marker} a{wildcard}b") == [literal["id"]]


async def test_list_with_q_matches_non_ascii_letters_whatever_the_case(
    client: httpx.AsyncClient,
    unique: Unique,
    create_case: Factory,
) -> None:
    marker = unique("umlaut")
    case = await create_case(name=f"ÜBERSICHT {marker} ÄNDERN")

    assert await ids(client, q=f"übersicht {marker} ändern") == [case["id"]]


async def test_list_with_a_tag_shows_only_cases_carrying_it(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    smoke, other = unique("smoke"), unique("other")
    tagged = await create_case(tags=[smoke])
    both = await create_case(tags=[other, smoke])
    await create_case(tags=[other])
    await create_case()

    assert await ids(client, tag=smoke) == [tagged["id"], both["id"]]


async def test_list_with_repeated_tags_shows_only_cases_carrying_all_of_them(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    smoke, login, api = unique("smoke"), unique("login"), unique("api")
    all_three = await create_case(tags=[smoke, login, api])
    two = await create_case(tags=[smoke, login])
    await create_case(tags=[smoke])
    await create_case(tags=[login, api])

    assert await ids(client, tag=[smoke, login]) == [all_three["id"], two["id"]]
    assert await ids(client, tag=[smoke, login, api]) == [all_three["id"]]
    assert await ids(client, tag=[smoke, smoke]) == await ids(client, tag=smoke)


async def test_list_with_an_unknown_tag_is_empty(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    known = unique("known")
    await create_case(tags=[known])

    assert await listing(client, tag=unique("nobody-has-this")) == {
        "items": [],
        "next_cursor": None,
    }
    assert await ids(client, tag=[known, unique("nobody-has-this")]) == []


async def test_list_with_suite_id_shows_only_cases_of_that_suite(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory, create_case: Factory
) -> None:
    tag = unique("suited")
    suite, other = await create_suite(), await create_suite()
    inside = await create_case(tags=[tag], suite_links=[{"suite_id": suite["id"]}])
    both = await create_case(
        tags=[tag], suite_links=[{"suite_id": other["id"]}, {"suite_id": suite["id"]}]
    )
    await create_case(tags=[tag], suite_links=[{"suite_id": other["id"]}])
    await create_case(tags=[tag])

    assert await ids(client, suite_id=suite["id"]) == [inside["id"], both["id"]]
    assert await ids(client, suite_id=suite["id"], tag=tag) == [inside["id"], both["id"]]


async def test_list_with_an_unknown_suite_id_is_empty(client: httpx.AsyncClient) -> None:
    assert await listing(client, suite_id=UNKNOWN_ID) == {"items": [], "next_cursor": None}


async def test_list_with_updated_since_shows_cases_updated_at_or_after_that_time(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("since")
    older = await create_case(tags=[tag])
    newer = await create_case(tags=[tag])

    assert await ids(client, tag=tag, updated_since=newer["updated_at"]) == [newer["id"]]
    assert await ids(client, tag=tag, updated_since=older["updated_at"]) == [
        older["id"],
        newer["id"],
    ]

    patched = await client.patch(f"{API}/{older['id']}", json={"description": "touched"})
    assert patched.status_code == 200, patched.text
    assert await ids(client, tag=tag, updated_since=newer["updated_at"]) == [
        older["id"],
        newer["id"],
    ]


async def test_list_with_updated_since_in_another_offset_compares_the_same_instant(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("offset")
    await create_case(tags=[tag])
    newer = await create_case(tags=[tag])
    instant = datetime.fromisoformat(newer["updated_at"])

    in_berlin = instant.astimezone(timezone(timedelta(hours=2))).isoformat()
    in_new_york = instant.astimezone(timezone(timedelta(hours=-5))).isoformat()
    naive_utc = instant.replace(tzinfo=None).isoformat()

    for since in (in_berlin, in_new_york, naive_utc):
        assert await ids(client, tag=tag, updated_since=since) == [newer["id"]], since


async def test_list_with_updated_since_in_the_future_is_empty(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("future")
    await create_case(tags=[tag])

    assert await ids(client, tag=tag, updated_since="2999-01-01T00:00:00+00:00") == []


async def test_list_with_updated_since_beyond_what_utc_can_hold_is_a_bound_not_an_error(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("edge")
    case = await create_case(tags=[tag])

    latest = await ids(client, tag=tag, updated_since="9999-12-31T23:59:59-05:00")
    earliest = await ids(client, tag=tag, updated_since="0001-01-01T00:00:00+05:00")

    assert (latest, earliest) == ([], [case["id"]])


async def test_list_combines_every_filter(
    client: httpx.AsyncClient, unique: Unique, create_suite: Factory, create_case: Factory
) -> None:
    tag, marker = unique("combo"), unique("needle")
    suite = await create_suite()
    link = [{"suite_id": suite["id"]}]
    match = await create_case(name=f"{marker} match", tags=[tag], suite_links=link)
    await create_case(name=f"{marker} not in suite", tags=[tag])
    await create_case(name=f"{marker} untagged", suite_links=link)
    await create_case(name="no marker", tags=[tag], suite_links=link)

    assert await ids(
        client, q=marker, tag=tag, suite_id=suite["id"], updated_since=match["created_at"]
    ) == [match["id"]]


# --- ordering and pages


async def test_list_sorts_by_id_by_default_and_by_any_named_ordering(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag, base = unique("sorted"), unique("sort")
    b = await create_case(name=f"{base} b", tags=[tag])
    c = await create_case(name=f"{base} c", tags=[tag])
    a = await create_case(name=f"{base} a", tags=[tag])
    touched = await client.patch(f"{API}/{b['id']}", json={"description": "touched"})
    assert touched.status_code == 200, touched.text

    assert await ids(client, tag=tag) == [b["id"], c["id"], a["id"]]
    assert await ids(client, tag=tag, sort="id") == [b["id"], c["id"], a["id"]]
    assert await ids(client, tag=tag, sort="-id") == [a["id"], c["id"], b["id"]]
    assert await ids(client, tag=tag, sort="name") == [a["id"], b["id"], c["id"]]
    assert await ids(client, tag=tag, sort="-updated_at") == [b["id"], a["id"], c["id"]]


@pytest.mark.parametrize("sort", list(ORDERINGS))
async def test_list_pages_by_cursor_through_every_case_in_order(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory, sort: str
) -> None:
    tag, base = unique("paged"), unique("page")
    cases = [await create_case(name=f"{base} {letter}", tags=[tag]) for letter in "dbeac"]
    key, descending = ORDERINGS[sort]

    pages = await every_page(client, tag=tag, sort=sort, limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [case["id"] for page in pages for case in page]
    assert listed == [case["id"] for case in sorted(cases, key=key, reverse=descending)]


async def test_list_gives_no_next_cursor_when_the_last_page_is_exactly_full(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("exact")
    for _ in range(4):
        await create_case(tags=[tag])

    pages = await every_page(client, tag=tag, limit=2)

    assert [len(page) for page in pages] == [2, 2]


async def test_list_without_limit_answers_pages_of_50(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    tag = unique("fifty")
    for _ in range(3):
        responses = await asyncio.gather(
            *(client.post(API, json={"name": unique("c"), "tags": [tag]}) for _ in range(17))
        )
        assert all(r.status_code == 201 for r in responses), [r.text for r in responses]

    first = await listing(client, tag=tag)
    second = await listing(client, tag=tag, cursor=first["next_cursor"])

    assert len(first["items"]) == 50
    assert first["next_cursor"] is not None
    assert (len(second["items"]), second["next_cursor"]) == (1, None)


async def test_list_with_limit_500_answers_up_to_500_items(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag = unique("max")
    case = await create_case(tags=[tag])

    assert await ids(client, tag=tag, limit=500) == [case["id"]]


async def test_list_keeps_filters_while_paging(
    client: httpx.AsyncClient, unique: Unique, create_case: Factory
) -> None:
    tag, marker = unique("keep"), unique("needle")
    wanted = [await create_case(name=f"{marker} {i}", tags=[tag]) for i in range(3)]
    await create_case(tags=[tag])
    await create_case(name=f"{marker} untagged")

    pages = await every_page(client, tag=tag, q=marker, limit=1)

    assert [case["id"] for page in pages for case in page] == [case["id"] for case in wanted]


# --- paging while cases are being created


@dataclass
class TaggedCases:
    tag: str
    existing: set[int]  # the cases created before any paging started
    carrying: set[int] = field(default_factory=set)  # every case with the tag, new ones too


@pytest.fixture(scope="module")
async def thousand_cases(client: httpx.AsyncClient, database_backend: str) -> TaggedCases:
    """1,000 cases carrying one tag that nobody else uses."""
    tag = f"paging-{uuid.uuid4().hex[:8]}"
    # SQLite takes one writer at a time and a waiting writer sleeps in SQLite's busy handler, so
    # more than two concurrent writes are slower there; PostgreSQL gains from many.
    batch = 2 if database_backend == "sqlite" else 50

    async def create() -> int:
        response = await client.post(API, json={"name": f"{tag}-{uuid.uuid4().hex}", "tags": [tag]})
        assert response.status_code == 201, response.text
        case_id: int = response.json()["id"]
        return case_id

    created: set[int] = set()
    for start in range(0, 1000, batch):
        created.update(await asyncio.gather(*(create() for _ in range(min(batch, 1000 - start)))))
    assert len(created) == 1000
    return TaggedCases(tag=tag, existing=created, carrying=set(created))


@pytest.mark.parametrize("sort", list(ORDERINGS))
async def test_list_pages_show_every_existing_case_once_while_more_are_created(
    client: httpx.AsyncClient, thousand_cases: TaggedCases, sort: str
) -> None:
    tag, existing = thousand_cases.tag, set(thousand_cases.carrying)
    created_meanwhile: list[int] = []
    progressed = asyncio.Event()
    stop = asyncio.Event()

    async def keep_creating() -> None:
        try:
            while not stop.is_set():
                response = await client.post(
                    API, json={"name": f"{tag}-{uuid.uuid4().hex}", "tags": [tag]}
                )
                assert response.status_code == 201, response.text
                created_meanwhile.append(response.json()["id"])
                thousand_cases.carrying.add(response.json()["id"])
                progressed.set()
        finally:
            progressed.set()

    creator = asyncio.create_task(keep_creating())
    listed: list[JSON] = []
    cursor = None
    try:
        while True:
            if not stop.is_set():
                # At least one case is created between any two pages.
                await progressed.wait()
                progressed.clear()
                if creator.done():
                    creator.result()  # the creator failed: show why
            page = await listing(
                client, tag=tag, sort=sort, limit=37, **({"cursor": cursor} if cursor else {})
            )
            assert len(page["items"]) <= 37
            listed.extend(page["items"])
            if existing <= {case["id"] for case in listed}:
                stop.set()
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        await creator

    listed_ids = [case["id"] for case in listed]
    assert len(listed_ids) == len(set(listed_ids)), "a case was listed twice"
    assert existing <= set(listed_ids), f"{len(existing - set(listed_ids))} cases were skipped"
    assert set(listed_ids) <= thousand_cases.carrying
    assert len(created_meanwhile) >= len(existing) // 37
    key, descending = ORDERINGS[sort]
    assert listed == sorted(listed, key=key, reverse=descending)


# --- refused parameters


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        pytest.param({"limit": 0}, ["query", "limit"], id="limit-0"),
        pytest.param({"limit": 501}, ["query", "limit"], id="limit-501"),
        pytest.param({"limit": -1}, ["query", "limit"], id="limit-negative"),
        pytest.param({"limit": "ten"}, ["query", "limit"], id="limit-text"),
        pytest.param({"limit": 2**70}, ["query", "limit"], id="limit-huge"),
        pytest.param({"sort": "bogus"}, ["query", "sort"], id="sort-unknown"),
        pytest.param({"sort": "updated_at"}, ["query", "sort"], id="sort-ascending-updated"),
        pytest.param({"sort": "-name"}, ["query", "sort"], id="sort-descending-name"),
        pytest.param({"deleted": "yes"}, ["query", "deleted"], id="deleted-unknown"),
        pytest.param({"deleted": ""}, ["query", "deleted"], id="deleted-empty"),
        pytest.param({"suite_id": 0}, ["query", "suite_id"], id="suite-id-0"),
        pytest.param({"suite_id": 2**31}, ["query", "suite_id"], id="suite-id-2^31"),
        pytest.param({"suite_id": "api"}, ["query", "suite_id"], id="suite-id-text"),
        pytest.param({"updated_since": "yesterday"}, ["query", "updated_since"], id="since-text"),
        pytest.param({"updated_since": "0.5"}, ["query", "updated_since"], id="since-seconds"),
        pytest.param(
            {"updated_since": "2026-01-31"}, ["query", "updated_since"], id="since-date-only"
        ),
        pytest.param(
            {"updated_since": "2025-13-45T00:00:00Z"}, ["query", "updated_since"], id="since-date"
        ),
        pytest.param({"q": "x" * 256}, ["query", "q"], id="q-256-characters"),
        pytest.param({"q": "a\u0000b"}, ["query", "q"], id="q-nul"),
        pytest.param({"tag": ["ok", "a\u0000b"]}, ["query", "tag", 1], id="tag-nul"),
    ],
)
async def test_list_with_an_invalid_parameter_is_rejected(
    client: httpx.AsyncClient, params: JSON, loc: list[Any]
) -> None:
    response = await client.get(API, params=params)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="word"),
        pytest.param("!!!", id="punctuation"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(), id="binary"),
        pytest.param(base64.urlsafe_b64encode(b"[1, 2]").decode(), id="json-list"),
        pytest.param(base64.urlsafe_b64encode(b'{"o": "id"}').decode(), id="no-keys"),
        pytest.param(crafted_cursor("id", [1, 2]), id="too-many-keys"),
        pytest.param(crafted_cursor("id", ["seven"]), id="text-id"),
        pytest.param(crafted_cursor("id", [True]), id="bool-id"),
        pytest.param(crafted_cursor("nonsense", [1]), id="unknown-ordering"),
    ],
)
async def test_list_with_a_cursor_it_did_not_issue_is_rejected(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get(API, params={"cursor": cursor})

    problem = assert_problem(response, 422, "invalid_cursor")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_with_a_cursor_longer_than_1024_characters_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(API, params={"cursor": "a" * 1025})

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_with_a_bad_cursor_is_rejected_even_when_a_tag_is_unknown(
    client: httpx.AsyncClient, unique: Unique
) -> None:
    response = await client.get(API, params={"cursor": "garbled", "tag": unique("nobody")})

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(("issued_for", "used_for"), [("name", "id"), ("id", "-id")])
async def test_list_with_a_cursor_of_another_ordering_is_rejected(
    client: httpx.AsyncClient,
    unique: Unique,
    create_case: Factory,
    issued_for: str,
    used_for: str,
) -> None:
    tag = unique("other-sort")
    await create_case(tags=[tag])
    await create_case(tags=[tag])
    cursor = (await listing(client, tag=tag, sort=issued_for, limit=1))["next_cursor"]
    assert cursor is not None

    response = await client.get(API, params={"tag": tag, "sort": used_for, "cursor": cursor})

    problem = assert_problem(response, 422, "invalid_cursor")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(crafted_cursor("id", [2**31]), id="id-2^31"),
        pytest.param(crafted_cursor("id", [2**63]), id="id-2^63"),
        pytest.param(crafted_cursor("id", [10**30]), id="id-10^30"),
        pytest.param(crafted_cursor("name", ["a", 2**31]), id="name-id-2^31"),
        pytest.param(crafted_cursor("name", [5, 1]), id="name-number"),
        pytest.param(crafted_cursor("-updated_at", [5, 1]), id="timestamp-number"),
        pytest.param(crafted_cursor("-updated_at", [["2025-01-01"], 1]), id="timestamp-list"),
        pytest.param(crafted_cursor("-updated_at", ["not a time", 1]), id="timestamp-text"),
        pytest.param(
            crafted_cursor("-updated_at", ["9999-12-31T23:59:59-05:00", 1]),
            id="timestamp-after-utc-year-9999",
        ),
        pytest.param(
            crafted_cursor("-updated_at", ["0001-01-01T00:00:00+05:00", 1]),
            id="timestamp-before-utc-year-1",
        ),
        pytest.param(crafted_cursor("name", ["a\u0000b", 1]), id="name-with-nul"),
    ],
)
async def test_list_with_a_crafted_cursor_holding_impossible_values_is_rejected(
    client: httpx.AsyncClient, cursor: str
) -> None:
    ordering = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]

    response = await client.get(API, params={"sort": ordering, "cursor": cursor})

    assert_problem(response, 422, "invalid_cursor")
