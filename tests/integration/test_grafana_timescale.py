"""The same provisioned queries on TimescaleDB (the compatibility target): with the
datasource's TimescaleDB flag on, ``$__timeGroup`` becomes ``time_bucket``, and the
rollups are continuous aggregates. Loaded with INSERTs (no COPY there)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from schemas.db import migrate
from services.core import dbadmin
from services.grafana import check, render
from services.grafana.boards import OVERVIEW_UID
from services.ingest.rows import COLUMNS
from tests.integration.test_grafana_support import health_events, simulated_rows

pytestmark = [pytest.mark.integration, pytest.mark.timescale]

BUSES = 3


async def test_every_query_runs_on_timescaledb(timescale_dsn: str) -> None:
    await asyncio.to_thread(migrate.upgrade, timescale_dsn)
    await dbadmin.seed(timescale_dsn, "demo", buses=BUSES)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    rows = await asyncio.to_thread(simulated_rows, end, BUSES, 600)
    conn = await asyncpg.connect(timescale_dsn, statement_cache_size=0)
    try:
        # Buses of the demo registry may already hold rows from other tests: replace ours.
        await conn.execute(
            "DELETE FROM pack_samples WHERE vehicle_id = ANY($1::text[]) AND ts > $2",
            sorted({r[0] for r in rows}), end - timedelta(days=1),
        )  # fmt: skip
        values = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        await conn.executemany(
            f"INSERT INTO pack_samples ({', '.join(COLUMNS)}) VALUES ({values})", rows[::5]
        )
        await conn.execute("CALL refresh_continuous_aggregate('pack_samples_1m', NULL, NULL)")
        await conn.execute("CALL refresh_continuous_aggregate('pack_samples_1h', NULL, NULL)")
        await conn.execute("DELETE FROM pack_health; DELETE FROM anomalies; DELETE FROM alerts")
        await health_events(conn, end, BUSES)
    finally:
        await conn.close()

    report = await check.check(timescale_dsn, render.ROOT, end - timedelta(days=1), end)
    assert report.timescaledb is True
    summary = report.summary()
    assert summary["queries_failed"] == []
    assert summary["queries_ok"] >= 30
    rows_by_key = {o.key: o for o in report.outcomes}
    voltage = rows_by_key["packwatch-vehicle-pack/Pack voltage, current, power/A"]
    assert voltage.columns[0] == ("time", "timestamptz")  # time_bucket, not epoch seconds
    assert voltage.rows > 0
    online = rows_by_key[f"{OVERVIEW_UID}/Buses now/A"].result[0]["online"]
    assert online == BUSES
    assert summary["raw_scans_in_overview"] == 0
