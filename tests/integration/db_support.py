"""Storage settings of the schema, as the catalog holds them (migration 0004)."""

from __future__ import annotations

import asyncpg


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
