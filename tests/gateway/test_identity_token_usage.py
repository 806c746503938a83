"""A token's `last_used_at`: known at once, written in batches (every TOKEN_USAGE_FLUSH_S and at
shutdown), never one write per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from tests.gateway.conftest import StartGateway, app_of
from tests.gateway.identity import API, Admin

from testops_kit.database import Database
from testops_kit.testing import wait_for


@contextmanager
def token_writes(gateway: httpx.AsyncClient) -> Iterator[list[str]]:
    """The statements that write ``api_tokens`` while the block runs, on ``gateway``'s
    database."""
    database: Database = app_of(gateway).state.database
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            seen.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_many_requests_cost_no_write_and_the_last_use_is_written_at_shutdown(
    start_gateway: StartGateway, admin: Admin
) -> None:
    with ExitStack() as stack:
        async with start_gateway(token_usage_flush_s=3600) as gateway:
            root = Admin(gateway, admin.root_token)
            key = await root.project()
            account = await root.account(key, "viewer")
            writes = stack.enter_context(token_writes(gateway))
            for _ in range(20):
                response = await gateway.get(f"{API}/projects/{key}/tags", headers=account.headers)
                assert response.status_code == 200, response.text
            listed = await gateway.get(f"{API}/users/{account.id}/tokens", headers=root.headers)
            while_serving = list(writes)
        at_shutdown = list(writes)
    async with start_gateway() as gateway:
        stored = await gateway.get(
            f"{API}/users/{account.id}/tokens", headers=Admin(gateway, admin.root_token).headers
        )

    assert while_serving == []
    assert listed.json()["items"][0]["last_used_at"] is not None, "known before it is written"
    assert len(at_shutdown) == 1
    assert stored.json()["items"][0]["last_used_at"] == listed.json()["items"][0]["last_used_at"]


async def test_the_last_use_is_written_every_flush_interval_in_one_statement(
    start_gateway: StartGateway, admin: Admin
) -> None:
    async with start_gateway(token_usage_flush_s=0.2) as gateway:
        root = Admin(gateway, admin.root_token)
        accounts = [await root.account(None, None) for _ in range(3)]
        with token_writes(gateway) as writes:
            for account in accounts:
                for _ in range(5):
                    await gateway.get(f"{API}/me", headers=account.headers)

            async def flushed() -> bool | None:
                return True if writes else None

            await wait_for(flushed, within=5)

    # Fifteen requests of three tokens: one batch, never a statement per request.
    assert 1 <= len(writes) <= 3
