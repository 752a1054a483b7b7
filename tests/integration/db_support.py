"""Shared database steps of the integration tests: storage settings as the catalog holds
them (migration 0004), and rows stored outside ingestion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from schemas.db.rollups import REFRESH_HOURS_SQL, REFRESH_MINUTES_SQL
from services.ingest.rows import COLUMNS


async def array_statistics_targets(conn: asyncpg.Connection, relation: str) -> dict[str, int]:
    """The statistics target of ``relation``'s cell arrays; -1 is the server's default
    (which PostgreSQL 17 and later store as NULL)."""
    rows = await conn.fetch(
        "SELECT attname, coalesce(attstattarget, -1) AS target FROM pg_attribute "
        "WHERE attrelid = $1::regclass AND attname IN ('cell_voltages', 'cell_temps')",
        relation,
    )
    return {r["attname"]: int(r["target"]) for r in rows}


async def state_table_options(conn: asyncpg.Connection) -> dict[str, list[str] | None]:
    """The storage options of the plain-PostgreSQL rollup state tables."""
    rows = await conn.fetch(
        "SELECT relname, reloptions FROM pg_class "
        "WHERE relname IN ('pack_samples_1m_state', 'pack_samples_1h_state')"
    )
    return {r["relname"]: r["reloptions"] for r in rows}


async def store_rows(
    conn: asyncpg.Connection, rows: Sequence[Sequence[Any]], columns: Sequence[str] = COLUMNS
) -> None:
    """``pack_samples`` rows (``columns``, starting with vehicle_id and ts) and their
    rollups, as ingestion stores them, for rows written outside it (plain PostgreSQL)."""
    await conn.copy_records_to_table("pack_samples", records=rows, columns=list(columns))
    ids, times = [r[0] for r in rows], [r[1] for r in rows]
    await conn.execute(REFRESH_MINUTES_SQL, ids, times)
    await conn.execute(REFRESH_HOURS_SQL, ids, times)
