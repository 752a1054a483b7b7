"""What the Grafana tests share: a database holding a simulated fleet. No test lives here.

The demo registry of :data:`BUSES` buses; the simulator drives all of them for
:data:`SECONDS` ending a few seconds ago (so they count as online), their
PackSamples go in as ingestion writes them (``to_record``/``COLUMNS``), the
rollups are rebuilt with the repair statements, and pack health, anomalies
and alerts get a few rows each so that no panel queries an empty table.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from schemas.db import migrate
from schemas.fleet import demo_buses
from services.core import dbadmin
from services.ingest.rows import to_record
from services.simulator import FleetConfig, simulate_samples
from tests.integration.db_support import store_rows

BUSES = 6
SECONDS = 3600
STEP_S = 2.0


def simulated_rows(end: datetime, buses: int = BUSES, seconds: int = SECONDS) -> list[Any]:
    cfg = FleetConfig(buses=buses, seed=5, start=end - timedelta(seconds=seconds))
    return [
        to_record(s)
        for batch in simulate_samples(cfg, duration_s=seconds, dt=STEP_S)
        for s in batch
    ]


async def health_events(conn: asyncpg.Connection, end: datetime, buses: int = BUSES) -> None:
    """Daily SoH estimates for a month, one open and one acknowledged alert, two anomalies."""
    for i, bus in enumerate(demo_buses(buses)):
        for day in range(30):
            soh = 96.0 - 0.02 * day - 0.5 * i
            await conn.execute(
                """INSERT INTO pack_health (vehicle_id, pack_id, ts, soh_pct, soh_low_pct,
                soh_high_pct, capacity_ah, resistance_growth_pct, weak_cells, model_version)
                VALUES ($1, $2, $3, $4, $5, $6, 280, $7, $8, 'test')""",
                bus.vehicle_id, bus.pack_id, end - timedelta(days=29 - day),
                soh, soh - 1.5, soh + 1.5, 2.0 + 0.1 * day, [3, 17] if i == 0 else [],
            )  # fmt: skip
    first = demo_buses(buses)[0]
    for kind, severity, cleared in (
        ("cooling_failure", "critical", False),
        ("hot_cell", "warning", True),
    ):
        await conn.execute(
            """INSERT INTO anomalies (event_id, vehicle_id, pack_id, ts, detected_at, kind,
            severity, cleared) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)""",
            uuid.uuid4(), first.vehicle_id, first.pack_id, end - timedelta(minutes=20),
            kind, severity, cleared,
        )  # fmt: skip
    # One live alert per (vehicle, kind, location): two locations.
    for loc, state, acked in (
        ("pack", "open", None),
        ("cell:17", "acknowledged", end - timedelta(minutes=5)),
    ):
        await conn.execute(
            """INSERT INTO alerts (alert_id, vehicle_id, pack_id, depot_id, kind, location,
            severity, state, opened_at, acknowledged_at, last_event_at)
            VALUES ($1, $2, $3, $4, 'cooling_failure', $5, 'critical', $6, $7, $8, $7)""",
            uuid.uuid4(), first.vehicle_id, first.pack_id, first.depot_id, loc, state,
            end - timedelta(minutes=30), acked,
        )  # fmt: skip


async def prepare(dsn: str) -> datetime:
    """Migrate, seed, load the simulated hour and the health rows; returns the data's end."""
    await asyncio.to_thread(migrate.upgrade, dsn)
    await dbadmin.seed(dsn, "demo", buses=BUSES)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    rows = await asyncio.to_thread(simulated_rows, end)
    conn = await asyncpg.connect(dsn)
    try:
        await store_rows(conn, rows)
        await health_events(conn, end)
    finally:
        await conn.close()
    return end
