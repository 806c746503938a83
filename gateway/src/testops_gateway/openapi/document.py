"""The merged document, cached and rebuilt when a service was missing or it grew old."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from testops_gateway.openapi.gateway_paths import gateway_operations
from testops_gateway.openapi.merge import merge_with_report
from testops_gateway.openapi.names import (
    GATEWAY_OWNER,
)
from testops_kit.logging import get_logger

log = get_logger(__name__)


# ----------------------------------------------------------------------------- the cached document


class OpenAPIDocument:
    """The gateway's merged document, cached.

    ``fetch(name)`` returns a service's document, or None when that service cannot give it now.
    :meth:`get` answers the cached document while every service is in it and it is younger than
    ``ttl_s``; otherwise it fetches every service again (concurrently; callers that come
    meanwhile wait for the same rebuild), at most once per ``retry_after_s``. A service that does
    not answer a re-fetch keeps the document it gave last time; one that never gave any is
    :attr:`missing`, and the document's description says so.

    The returned dict is shared by every caller: do not modify it.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[str], Awaitable[dict[str, Any] | None]],
        services: Sequence[str],
        title: str,
        version: str,
        description: str,
        servers: list[dict[str, str]],
        retry_after_s: float = 2.0,
        ttl_s: float = 60.0,
        gateway_paths: dict[str, Any] | None = None,
        own_document: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """``gateway_paths`` defaults to :func:`gateway_operations`; pass ``{}`` for none.
        ``own_document`` gives the document of the gateway's own API routes (identity), merged
        like a service's."""
        self._fetch = fetch
        self._services = tuple(services)
        self._title = title
        self._version = version
        self._description = description
        self._servers = servers
        self._retry_after_s = retry_after_s
        self._ttl_s = ttl_s
        self._gateway_paths = gateway_operations() if gateway_paths is None else gateway_paths
        self._own_document = own_document
        self._lock = asyncio.Lock()
        self._known: dict[str, dict[str, Any]] = {}
        self._document: dict[str, Any] | None = None
        self._built_at = 0.0
        self._attempted_at: float | None = None
        self._clashes: tuple[str, ...] = ()

    @property
    def missing(self) -> frozenset[str]:
        """The services whose paths are not in the document (none was ever fetched)."""
        return frozenset(s for s in self._services if s not in self._known)

    @property
    def clashes(self) -> tuple[str, ...]:
        """What the last merge renamed, one line per clash (see :func:`merge_with_report`)."""
        return self._clashes

    def _fresh(self) -> bool:
        return (
            self._document is not None
            and not self.missing
            and time.monotonic() - self._built_at < self._ttl_s
        )

    def _throttled(self) -> bool:
        return (
            self._document is not None
            and self._attempted_at is not None
            and time.monotonic() - self._attempted_at < self._retry_after_s
        )

    async def get(self) -> dict[str, Any]:
        """The merged document (see the class)."""
        if self._document is not None and (self._fresh() or self._throttled()):
            return self._document
        async with self._lock:
            if self._document is not None and (self._fresh() or self._throttled()):
                return self._document
            self._attempted_at = time.monotonic()
            fetched = await asyncio.gather(*(self._fetch_one(s) for s in self._services))
            for service, document in zip(self._services, fetched, strict=True):
                if document is not None:
                    self._known[service] = document
            self._document = self._merge()
            self._built_at = time.monotonic()
            return self._document

    async def _fetch_one(self, service: str) -> dict[str, Any] | None:
        try:
            return await self._fetch(service)
        except Exception as exc:  # a fetch that fails is a service that cannot answer now
            log.warning("openapi_fetch_failed", service=service, error=repr(exc))
            return None

    def _merge(self) -> dict[str, Any]:
        description = self._description
        missing = [s for s in self._services if s not in self._known]
        if missing:
            note = f"Not available now: {', '.join(missing)} (their paths are not listed)."
            description = f"{description}\n\n{note}" if description else note
        documents = {s: self._known[s] for s in self._services if s in self._known}
        if self._own_document is not None:
            documents[GATEWAY_OWNER] = self._own_document()
        document, clashes = merge_with_report(
            documents,
            title=self._title,
            version=self._version,
            description=description,
            servers=self._servers,
            gateway_paths=self._gateway_paths,
        )
        if tuple(clashes) != self._clashes:
            self._clashes = tuple(clashes)
            for line in clashes:
                log.info("openapi_merge_clash", clash=line)
        return document
