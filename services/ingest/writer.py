"""The database step: a batch's rows into ``pack_samples`` in one transaction.

COPY into a per-connection staging table, then one statement moves the rows
into ``pack_samples`` (rows already stored are skipped: replays change
nothing) and merges exactly the inserted rows into the rollups
(:data:`schemas.db.rollups.INGEST_SQL`); the batch's bookkeeping row commits
with them. An infrastructure failure is waited out; a row the database itself
refuses (which validation should have caught) is isolated and dead-lettered
instead of blocking the stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from schemas.db.rollups import (
    INGEST_SQL,
    INGEST_SQL_TIMESCALE,
    MERGE_NARROW_SQL,
    SOURCE_COLUMNS,
    STAGE_DDL,
    STAGE_NARROW_DDL,
)
from schemas.db.tables import pack_samples
from schemas.pack_batch import SampleColumns
from services.core.errors import is_data_error, is_retriable
from services.ingest.batch import Batch
from services.ingest.errors import WriteAbandoned
from services.ingest.pgcopy import BinaryCopyEncoder, as_source
from services.ingest.rows import COLUMNS

log = structlog.get_logger(__name__)

BOOKKEEPING_SQL = """INSERT INTO ingest_batches
    (consumer_group, topic, offsets, rows_offered, rows_inserted)
    VALUES ($1, $2, $3::jsonb, $4, $5)"""


_ROWS = BinaryCopyEncoder(pack_samples, COLUMNS)
_NARROW_ROWS = BinaryCopyEncoder(pack_samples, SOURCE_COLUMNS)


async def copy_rows(
    conn: asyncpg.Connection, table: str, groups: Sequence[SampleColumns], narrow: bool = False
) -> None:
    """COPY the rows of ``groups`` into ``table`` in PostgreSQL's binary format (see
    pgcopy); ``narrow`` writes only the rollups' source columns."""
    enc = _NARROW_ROWS if narrow else _ROWS
    await conn.copy_to_table(
        table, source=as_source(enc.encode(groups)), columns=enc.columns, format="binary"
    )


async def init_connection(conn: asyncpg.Connection) -> None:
    """Pool ``init``: every connection gets its staging tables."""
    await conn.execute(STAGE_DDL)
    await conn.execute(STAGE_NARROW_DDL)


async def detect_timescale(pool: asyncpg.Pool) -> bool:
    """True when ``pack_samples`` is a hypertable (its rollups maintain themselves)."""
    return bool(
        await pool.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
        and await pool.fetchval(
            "SELECT count(*) FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'pack_samples'"
        )
    )


@dataclass
class WriteResult:
    offered: int
    inserted: int
    refused: list[tuple[int, str]]  # (index in batch, reason) of rows the database refused


class Writer:
    """Writes batches; owns the retry policy for the database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        group: str,
        topic: str,
        timescale: bool,
        retry_initial_s: float,
        retry_max_s: float,
        stopping: Callable[[], bool],
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._pool = pool
        self._group = group
        self._topic = topic
        self._sql = INGEST_SQL_TIMESCALE if timescale else INGEST_SQL
        self._timescale = timescale
        self._retry_initial = retry_initial_s
        self._retry_max = retry_max_s
        self._stopping = stopping
        self._on_retry = on_retry

    async def write(self, batch: Batch) -> WriteResult:
        """Store the batch's rows durably; wait out outages; never raise for bad rows.

        Raises :class:`WriteAbandoned` only when shutdown is requested while the
        database is unreachable (the offsets then stay uncommitted).
        """
        delay = self._retry_initial
        isolate: BaseException | None = None
        while True:
            try:
                if isolate is not None:
                    return await self._write_isolating(batch, isolate)
                return await self._write_once(batch)
            except Exception as exc:
                if not is_retriable(exc):
                    if is_data_error(exc) and isolate is None:
                        # Some row is refused by the database itself: find it, keep the rest.
                        isolate = exc
                        continue
                    raise
                if self._on_retry:
                    self._on_retry(exc)
                if self._stopping():
                    raise WriteAbandoned(f"database unreachable at shutdown: {exc!r}") from exc
                log.warning("db_write_retry", error=repr(exc), retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _write_once(self, batch: Batch) -> WriteResult:
        offsets = json.dumps({f"{tp.topic}:{tp.partition}": o for tp, o in batch.offsets.items()})
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await self._copy_fast(conn, batch.groups)
            if inserted is None:
                inserted = await self._copy_and_move(conn, batch.groups)
            await conn.execute(
                BOOKKEEPING_SQL, self._group, self._topic, offsets, batch.rows, inserted
            )
        return WriteResult(batch.rows, inserted, [])

    async def _copy_fast(
        self, conn: asyncpg.Connection, groups: Sequence[SampleColumns]
    ) -> int | None:
        """COPY straight into pack_samples; None when a row is already stored.

        The common case (no replay, no duplicate) costs one COPY of the rows
        plus one of their narrow rollup columns. A unique violation rolls the
        savepoint back and the caller takes the deduplicating path.
        """
        rows = sum(len(g) for g in groups)
        if not rows:
            return 0
        try:
            async with conn.transaction():
                await copy_rows(conn, "pack_samples", groups)
        except asyncpg.UniqueViolationError:
            return None
        if not self._timescale:
            await copy_rows(conn, "pack_samples_stage_narrow", groups, narrow=True)
            await conn.execute(MERGE_NARROW_SQL)
        return rows

    async def _copy_and_move(
        self, conn: asyncpg.Connection, groups: Sequence[SampleColumns]
    ) -> int:
        if not any(len(g) for g in groups):
            return 0
        await copy_rows(conn, "pack_samples_stage", groups)
        row = await conn.fetchrow(self._sql)
        return int(row["inserted"])

    async def _write_isolating(self, batch: Batch, first: BaseException) -> WriteResult:
        """Write row by row (savepoints) to find the rows the database refuses."""
        log.warning("db_refused_batch_isolating", error=repr(first), rows=batch.rows)
        refused: list[tuple[int, str]] = []
        inserted = 0
        singles = (g.take([j]) for g in batch.groups for j in range(len(g)))
        async with self._pool.acquire() as conn, conn.transaction():
            for i, single in enumerate(singles):
                try:
                    async with conn.transaction():
                        inserted += await self._copy_and_move(conn, [single])
                except asyncpg.PostgresError as exc:
                    if not is_data_error(exc):
                        raise  # an outage (retried by write) or a fault that is not the data's
                    refused.append((i, f"{type(exc).__name__}: {exc}"))
            offsets = json.dumps(
                {f"{tp.topic}:{tp.partition}": o for tp, o in batch.offsets.items()}
            )
            await conn.execute(
                BOOKKEEPING_SQL, self._group, self._topic, offsets, batch.rows, inserted
            )
        return WriteResult(batch.rows, inserted, refused)
