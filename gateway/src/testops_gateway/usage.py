"""When tokens and sessions were last used: kept in memory, written in batches.

A request would otherwise cost a write (and on SQLite the one write lock) just to say that it
happened. The gateway notes the time here and :meth:`UsageRecorder.flush` writes every noted
time in one transaction, every ``TOKEN_USAGE_FLUSH_S`` and at shutdown; until then, what is
read back is the later of the stored time and the noted one::

    usage.token_used(7, utcnow())
    usage.last_use(7, stored_last_used_at)   # the noted time
    await usage.flush(database)              # one UPDATE … executemany per table
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy import Table, and_, bindparam, or_, update

from testops_gateway.models import ApiToken, Session
from testops_kit.database import Database
from testops_kit.logging import get_logger

log = get_logger(__name__)

_TOKENS = cast(Table, ApiToken.__table__)
_SESSIONS = cast(Table, Session.__table__)

# Later times only: another replica may have written a later one meanwhile.
_UPDATE_TOKENS = (
    update(_TOKENS)
    .where(
        and_(
            _TOKENS.c.id == bindparam("row_id"),
            or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at < bindparam("used_at")),
        )
    )
    .values(last_used_at=bindparam("used_at"))
)
_UPDATE_SESSIONS = (
    update(_SESSIONS)
    .where(
        and_(_SESSIONS.c.id == bindparam("row_id"), _SESSIONS.c.last_seen_at < bindparam("used_at"))
    )
    .values(last_seen_at=bindparam("used_at"))
)


class UsageRecorder:
    """The last use of each token and session since the last flush."""

    def __init__(self) -> None:
        self._tokens: dict[int, datetime] = {}
        self._sessions: dict[int, datetime] = {}

    def token_used(self, token_id: int, at: datetime) -> None:
        self._tokens[token_id] = at

    def session_used(self, session_id: int, at: datetime) -> None:
        self._sessions[session_id] = at

    def token_last_use(self, token_id: int, stored: datetime | None) -> datetime | None:
        """The later of ``stored`` and the time noted for the token."""
        return _later(stored, self._tokens.get(token_id))

    def session_last_use(self, session_id: int, stored: datetime) -> datetime:
        return _later(stored, self._sessions.get(session_id)) or stored

    @property
    def pending(self) -> int:
        return len(self._tokens) + len(self._sessions)

    async def flush(self, database: Database) -> None:
        """Write every noted time; what cannot be written is kept for the next flush."""
        tokens, self._tokens = self._tokens, {}
        sessions, self._sessions = self._sessions, {}
        if not tokens and not sessions:
            return
        try:
            async with database.session(write=True) as session:
                if tokens:
                    await session.execute(
                        _UPDATE_TOKENS,
                        [{"row_id": key, "used_at": at} for key, at in sorted(tokens.items())],
                    )
                if sessions:
                    await session.execute(
                        _UPDATE_SESSIONS,
                        [{"row_id": key, "used_at": at} for key, at in sorted(sessions.items())],
                    )
        except Exception:
            for noted, kept in ((tokens, self._tokens), (sessions, self._sessions)):
                for key, at in noted.items():
                    kept[key] = _later(at, kept.get(key)) or at
            raise


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


def app_usage(request: Request) -> UsageRecorder:
    """The app's :class:`UsageRecorder`."""
    usage: UsageRecorder = request.app.state.usage
    return usage


UsageDep = Annotated[UsageRecorder, Depends(app_usage)]
