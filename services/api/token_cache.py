"""Stored token rows kept in memory for a few seconds, so a request costs no token query.

Every request presents a bearer token; looking its row up costs a database
round trip (and a pool release) per request. :class:`TokenCache` keeps the
rows it has read for at most ``ttl_s`` seconds and judges each request
against the kept row exactly as :func:`tokens.verify` judges a fresh one:
the secret is hashed and compared in constant time, and expiry is checked
against the clock on every request.

How fast a change to a token reaches the API:

- ``packwatch token revoke`` (:func:`tokens.revoke`) notifies
  :data:`tokens.REVOKED_CHANNEL` when it commits; every API process listens
  (:func:`listen_for_revocations`) and drops the token at once. A revoked token
  is refused from the next request on (milliseconds, the notification's trip).
- Any other change to a row (an UPDATE by hand, a revocation while a process's
  listening connection is down) reaches each process within ``ttl_s``
  (``PACKWATCH_API_TOKEN_CACHE_S``, 5 s by default; 0 turns the cache off).

Unknown ids are never kept, so a token works from the moment it is created.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import structlog

from services.api import tokens
from services.api.tokens import Principal, StoredToken

log = structlog.get_logger(__name__)


class TokenCache:
    """Token rows by id for at most ``ttl_s`` seconds (``max_entries`` rows, oldest out first)."""

    def __init__(
        self,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._rows: dict[str, tuple[float, StoredToken]] = {}
        # Bumped by every eviction: a lookup that was in flight across one does
        # not store its (possibly older) row.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._rows)

    async def verify(self, conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Principal | None:
        """As :func:`tokens.verify`, reading the row from memory when it is fresh enough."""
        parsed = tokens.parse(token)
        if parsed is None:
            return None
        token_id, secret = parsed
        now = self._clock()
        held = self._rows.get(token_id)
        if held is not None and now - held[0] < self.ttl_s:
            return tokens.judge(token_id, secret, held[1])
        generation = self._generation
        stored = await tokens.lookup(conn, token_id)
        if stored is not None and self.ttl_s > 0 and generation == self._generation:
            self._rows.pop(token_id, None)
            if len(self._rows) >= self.max_entries:
                self._rows.pop(next(iter(self._rows)))
            self._rows[token_id] = (now, stored)
        return tokens.judge(token_id, secret, stored)

    def evict(self, token_id: str) -> None:
        """Forget ``token_id``: its next request reads the row again."""
        self._generation += 1
        self._rows.pop(token_id, None)

    def clear(self) -> None:
        """Forget every row."""
        self._generation += 1
        self._rows.clear()


async def _listen_once(dsn: str, cache: TokenCache, ready: asyncio.Event) -> None:
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "packwatch-api"})
    lost = asyncio.Event()

    def on_revoked(_conn: Any, _pid: int, _channel: str, token_id: str) -> None:
        cache.evict(token_id)

    try:
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(tokens.REVOKED_CHANNEL, on_revoked)
        # Revocations before LISTEN took effect were not heard: start afresh.
        cache.clear()
        ready.set()
        await lost.wait()
    finally:
        await conn.close()


async def _listen(dsn: str, cache: TokenCache, ready: asyncio.Event, retry_s: float) -> None:
    while True:
        try:
            await _listen_once(dsn, cache, ready)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("token_revocation_listener_failed", error=str(exc), retry_s=retry_s)
        else:
            log.warning("token_revocation_listener_lost", retry_s=retry_s)
        # Unheard revocations are bounded by the cache's ttl; forget early anyway.
        cache.clear()
        await asyncio.sleep(retry_s)


@asynccontextmanager
async def listen_for_revocations(
    dsn: str, cache: TokenCache, *, retry_s: float = 1.0, start_timeout_s: float = 10.0
) -> AsyncIterator[None]:
    """Evict revoked tokens from ``cache`` as revocations commit, for the block's lifetime.

    A dedicated connection LISTENs on :data:`tokens.REVOKED_CHANNEL`; when it
    is lost it reconnects every ``retry_s``. The block starts once listening
    (or after ``start_timeout_s``: the cache's ttl still bounds staleness).
    """
    if cache.ttl_s <= 0:
        yield
        return
    ready = asyncio.Event()
    task = asyncio.create_task(_listen(dsn, cache, ready, retry_s), name="token-revocations")
    try:
        try:
            await asyncio.wait_for(ready.wait(), start_timeout_s)
        except TimeoutError:
            log.warning("token_revocation_listener_not_ready", timeout_s=start_timeout_s)
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
