"""The asyncpg pool of a process: opened in its lifespan, closed with a time limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
import structlog

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int | None = None,
    close_timeout_s: float = 10.0,
    application_name: str = "packwatch",
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool for the lifetime of the block.

    ``reset`` replaces asyncpg's reset query on release (advisory unlocks,
    CLOSE ALL, UNLISTEN, RESET ALL); an open transaction is rolled back either way.

    On exit the pool closes gracefully, waiting at most ``close_timeout_s`` for
    connections in use; past that it terminates them so shutdown never hangs.
    """
    settings = {"application_name": application_name}
    if statement_timeout_ms is not None:
        settings["statement_timeout"] = str(statement_timeout_ms)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings=settings,
        init=init,
        reset=reset,
    )
    try:
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), close_timeout_s)
        except TimeoutError:
            log.warning("db_pool_close_timeout", timeout_s=close_timeout_s)
            pool.terminate()


async def ping(pool: asyncpg.Pool) -> bool:
    """True when the database answers a trivial query."""
    return bool(await pool.fetchval("SELECT 1") == 1)
