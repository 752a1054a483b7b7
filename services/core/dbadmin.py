"""`packwatch db migrate | downgrade | seed | check`: the database's life, by command."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from schemas.db.rollups import ROLLUPS
from schemas.fleet import DEMO_DEPOTS, DESIGNS, demo_buses

SEED_SQL = {
    "depot": """INSERT INTO depots (depot_id, name, city, timezone, latitude_deg, longitude_deg)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (depot_id) DO UPDATE SET name = EXCLUDED.name, city = EXCLUDED.city""",
    "design": """INSERT INTO pack_designs (design_id, revision, chemistry, cell_supplier,
        cell_model, cells_series, cells_parallel, cell_nominal_ah, nominal_ah, nominal_v,
        cooling, temp_sensors, sensor_cells, notes)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14)
        ON CONFLICT (design_id) DO NOTHING""",
    "vehicle": """INSERT INTO vehicles (vehicle_id, depot_id, model, commissioned_on)
        VALUES ($1, $2, $3, $4) ON CONFLICT (vehicle_id) DO NOTHING""",
    "pack": """INSERT INTO packs (pack_id, design_id, vehicle_id, installed_at, cell_lot)
        VALUES ($1, $2, $3, $4::date, $5) ON CONFLICT (pack_id) DO NOTHING""",
}


async def seed(dsn: str, fleet: str = "demo", buses: int = 24) -> dict[str, int]:
    """Write the demo registry (depots, both pack designs, buses and packs). Idempotent."""
    if fleet != "demo":
        raise ValueError(f"unknown fleet {fleet!r}; the one shipped is 'demo'")
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for d in DEMO_DEPOTS:
                await conn.execute(
                    SEED_SQL["depot"],
                    d.depot_id,
                    d.name,
                    d.city,
                    d.timezone,
                    d.latitude_deg,
                    d.longitude_deg,
                )
            for p in DESIGNS.values():
                await conn.execute(
                    SEED_SQL["design"],
                    p.design_id,
                    p.revision,
                    p.chemistry,
                    p.cell_supplier,
                    p.cell_model,
                    p.cells_series,
                    p.cells_parallel,
                    p.cell_nominal_ah,
                    p.nominal_ah,
                    p.nominal_v,
                    p.cooling,
                    p.temp_sensors,
                    json.dumps(p.sensor_cells()),
                    p.notes,
                )
            fleet_buses = demo_buses(buses)
            for b in fleet_buses:
                await conn.execute(
                    SEED_SQL["vehicle"], b.vehicle_id, b.depot_id, b.model, b.commissioned_on
                )
                await conn.execute(
                    SEED_SQL["pack"],
                    b.pack_id,
                    b.design_id,
                    b.vehicle_id,
                    b.commissioned_on,
                    f"LOT-{b.design_id}-2025Q1",
                )
    finally:
        await conn.close()
    return {
        "depots": len(DEMO_DEPOTS),
        "pack_designs": len(DESIGNS),
        "vehicles": len(fleet_buses),
        "packs": len(fleet_buses),
    }


RELATIONS_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
ORDER BY c.relname"""


async def relations(dsn: str) -> list[str]:
    """Names of the tables and views in the public schema."""
    conn = await asyncpg.connect(dsn)
    try:
        return [r["relname"] for r in await conn.fetch(RELATIONS_SQL)]
    finally:
        await conn.close()


TIMESCALE_SQL = {
    "hypertables": "SELECT hypertable_name AS name FROM timescaledb_information.hypertables "
    "WHERE hypertable_schema = 'public' ORDER BY 1",
    "continuous_aggregates": "SELECT view_name AS name, materialization_hypertable_name AS mat "
    "FROM timescaledb_information.continuous_aggregates ORDER BY 1",
    "compression": "SELECT hypertable_name AS table, attname AS column, segmentby_column_index "
    "AS segmentby, orderby_column_index AS orderby, orderby_asc FROM "
    "timescaledb_information.compression_settings ORDER BY 1, 2",
    "policies": "SELECT proc_name AS policy, hypertable_name AS relation, "
    "schedule_interval::text AS every, config::text AS config "
    "FROM timescaledb_information.jobs WHERE proc_name LIKE 'policy_%' ORDER BY 1, 2",
}


async def timescale_objects(dsn: str) -> dict[str, list[Any]]:
    """What TimescaleDB holds for packwatch: hypertables, aggregates, compression, policies."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        out: dict[str, list[Any]] = {}
        for key, sql in TIMESCALE_SQL.items():
            rows = await conn.fetch(sql)
            if key == "hypertables" or key == "continuous_aggregates":
                out[key] = [r["name"] for r in rows]
            else:
                out[key] = [dict(r) for r in rows]
        return out
    finally:
        await conn.close()


def expected_relations() -> set[str]:
    from schemas.db import alert_tables, api_tables  # noqa: F401 - register their tables
    from schemas.db.tables import metadata

    return set(metadata.tables) | set(ROLLUPS)
