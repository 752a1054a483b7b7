"""The alert rules' queries, evaluated with their own thresholds, fire for the buses that
should and stay normal for the rest, on rows prepared for each condition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.db import migrate
from services.core import dbadmin
from services.grafana import alert_rules, render
from services.grafana.check import firing
from services.grafana.macros import Context, expand
from services.grafana.queries import load, rule_queries
from tests.integration.db_support import store_rows

pytestmark = [pytest.mark.integration]

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
HOT, LEAKY, LATE, SILENT, FINE = "BUS-0001", "BUS-0002", "BUS-0003", "BUS-0004", "BUS-0005"
PARKED = "BUS-0006"  # in maintenance: never reported silent


def _row(bus: str, ts: datetime, temp: float, insulation: float, lag_s: float) -> tuple[Any, ...]:
    ingested = ts + timedelta(seconds=lag_s)
    return (bus, ts, int(ts.timestamp()), ingested, 650.0, -50.0, 60.0, 3.30, 3.31,
            temp - 3, temp, temp - 1, insulation, 20.0, [3.3] * 4, [temp] * 2)  # fmt: skip


COLUMNS = (
    "vehicle_id", "ts", "seq", "ingested_at", "pack_voltage_v", "pack_current_a", "soc_pct",
    "cell_voltage_min_v", "cell_voltage_max_v", "cell_temp_min_c", "cell_temp_max_c",
    "cell_temp_mean_c", "insulation_kohm", "speed_kmh", "cell_voltages", "cell_temps",
)  # fmt: skip


def _rows() -> list[tuple[Any, ...]]:
    """Ten minutes per bus at 10 s; each faulty bus breaks exactly one rule."""
    rows = []
    for bus in (HOT, LEAKY, LATE, SILENT, FINE):
        for k in range(60):
            ts = NOW - timedelta(seconds=600 - 10 * k)
            if bus == SILENT:
                ts -= timedelta(minutes=40)  # its last sample is 40 minutes old
            temp = 58.0 if bus == HOT and k > 40 else 32.0
            insulation = 180.0 if bus == LEAKY else 2500.0
            lag = 400.0 if bus == LATE else 0.8
            rows.append(_row(bus, ts, temp, insulation, lag))
    return rows


async def test_each_rule_fires_for_its_bus_only(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    await dbadmin.seed(database, "demo", buses=6)
    rows = _rows()
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "UPDATE vehicles SET in_maintenance = true WHERE vehicle_id = $1", PARKED
        )
        await store_rows(conn, rows, COLUMNS)
        _, alerting = load(render.ROOT)
        states: dict[str, dict[str, bool]] = {}
        for q in rule_queries(alerting):
            assert q.window is not None and q.rule is not None
            sql = expand(q.sql, Context(NOW - q.window, NOW))
            states[q.rule["uid"]] = firing(q.rule, await conn.fetch(sql))
    finally:
        await conn.close()

    def fired(spec: alert_rules.RuleSpec) -> set[str]:
        return {k.removeprefix("vehicle_id=") for k, v in states[spec.uid].items() if v}

    assert fired(alert_rules.OVER_TEMPERATURE) == {HOT}
    assert fired(alert_rules.INSULATION_LOW) == {LEAKY}
    assert fired(alert_rules.INGEST_LAG) == {LATE}
    # BUS-0004's samples are 40 minutes old; the parked bus is in maintenance.
    assert fired(alert_rules.BUS_SILENT) == {SILENT}
    silent = states[alert_rules.BUS_SILENT.uid]
    assert PARKED not in {k.removeprefix("vehicle_id=") for k in silent}
    # Normal is a real evaluation, not an absent row: every reporting bus has an instance.
    assert set(states[alert_rules.OVER_TEMPERATURE.uid]) == {
        f"vehicle_id={b}" for b in (HOT, LEAKY, LATE, FINE)
    }
