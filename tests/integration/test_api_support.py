"""What the API tests share: a migrated, seeded database with samples, tokens, a client.

The fleet is the demo fleet of six buses (two per depot). Buses 1 and 2
(depots CHN-MDV and MUM-WDL) carry :data:`SECONDS` of 1 Hz samples ending
a few seconds ago, so they count as online; the rollups are refreshed with
the statements a repair uses. No test lives here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from schemas.db import migrate
from schemas.fleet import DESIGNS, demo_buses
from services.api import tokens
from services.api.settings import ApiSettings
from services.core import dbadmin
from tests.integration.db_support import store_rows

BUSES = 6
SECONDS = 2 * 3600
HOME = "CHN-MDV"
OWN = "BUS-0001"  # depot CHN-MDV
FOREIGN = "BUS-0002"  # depot MUM-WDL
FOREIGN_PACK = "PK-NMC-R3-00002"

COLUMNS = (
    "vehicle_id", "ts", "seq", "pack_id", "pack_voltage_v", "pack_current_a", "soc_pct",
    "soh_pct", "cell_voltage_min_v", "cell_voltage_max_v", "cell_voltage_mean_v",
    "cell_temp_min_c", "cell_temp_max_c", "cell_temp_mean_c", "coolant_inlet_c",
    "coolant_outlet_c", "ambient_c", "insulation_kohm", "charging_state", "speed_kmh",
    "odometer_km", "cell_voltages", "cell_temps",
)  # fmt: skip


@dataclass(frozen=True)
class Fleet:
    dsn: str
    start: datetime
    end: datetime


def _rows(vehicle: str, pack: str, design: str, start: datetime, rng: random.Random) -> list[Any]:
    d = DESIGNS[design]
    out = []
    for s in range(SECONDS):
        cells = [round(rng.uniform(3.1, 3.4), 4) for _ in range(d.cells_series)]
        temps = [round(rng.uniform(20, 45), 2) for _ in range(d.temp_sensors)]
        current = rng.uniform(-300, 200)
        out.append(
            (
                vehicle,
                start + timedelta(seconds=s),
                s,
                pack,
                rng.uniform(600, 700),
                current,
                rng.uniform(10, 90),
                rng.uniform(88, 99),
                min(cells),
                max(cells),
                sum(cells) / len(cells),
                min(temps),
                max(temps),
                sum(temps) / len(temps),
                rng.uniform(20, 30),
                rng.uniform(22, 34),
                rng.uniform(25, 35),
                rng.uniform(500, 5000),
                1 if current > 0.5 else 0,
                rng.uniform(0, 60),
                1000 + s / 100,
                cells,
                temps,
            )
        )
    return out


async def prepare(dsn: str) -> Fleet:
    """Migrate, seed, load samples for buses 1 and 2, refresh the rollups."""
    await asyncio.to_thread(migrate.upgrade, dsn)
    await dbadmin.seed(dsn, "demo", buses=BUSES)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    start = end - timedelta(seconds=SECONDS)
    rng = random.Random(11)
    conn = await asyncpg.connect(dsn)
    try:
        for bus in demo_buses(BUSES)[:2]:
            rows = _rows(bus.vehicle_id, bus.pack_id, bus.design_id, start, rng)
            await store_rows(conn, rows, COLUMNS)
    finally:
        await conn.close()
    return Fleet(dsn=dsn, start=start, end=end)


async def issue(
    dsn: str, role: str, depots: list[str] | None = None, expires_days: float | None = None
) -> tokens.IssuedToken:
    conn = await asyncpg.connect(dsn)
    try:
        return await tokens.create(conn, role, depots, expires_days)
    finally:
        await conn.close()


def settings_for(dsn: str, **overrides: Any) -> ApiSettings:
    return ApiSettings.model_validate({"DATABASE_URL": dsn, **overrides})


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the app's lifespan (pool) running."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://packwatch.test"
        ) as client,
    ):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(t: datetime) -> str:
    return t.isoformat()
