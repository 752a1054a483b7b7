"""Cells, fleet summary, exports and the operations endpoints, on the prepared fleet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import httpx
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from services.api.app import create_app
from tests.integration.test_api_support import (
    OWN,
    Fleet,
    bearer,
    client_for,
    iso,
    issue,
    prepare,
    settings_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def fleet(database: str) -> Fleet:
    return await prepare(database)


@pytest.fixture
async def client(fleet: Fleet) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    token = (await issue(fleet.dsn, "engineer")).token
    app = create_app(settings_for(fleet.dsn, export_chunk_rows=97))
    async with client_for(app) as c:
        yield c, bearer(token)


async def test_cell_snapshot_and_heatmap_match_the_stored_arrays(
    fleet: Fleet, client: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    c, auth = client
    at = fleet.start + timedelta(minutes=30, milliseconds=500)
    r = await c.get(f"/v1/vehicles/{OWN}/cells/snapshot", params={"at": iso(at)}, headers=auth)
    assert r.status_code == 200, r.text
    snap = r.json()
    conn = await asyncpg.connect(fleet.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT ts, cell_voltages, cell_temps FROM pack_samples "
            "WHERE vehicle_id = $1 AND ts <= $2 ORDER BY ts DESC LIMIT 1",
            OWN,
            at,
        )
        assert row is not None
        assert snap["cell_voltages_v"] == pytest.approx(list(row["cell_voltages"]), rel=1e-6)
        assert len(snap["sensor_cells"]) == len(snap["cell_temps_c"]) == 44
        lo = fleet.start + timedelta(minutes=10)
        r = await c.get(
            f"/v1/vehicles/{OWN}/cells/heatmap",
            params={"start": iso(lo), "end": iso(lo + timedelta(minutes=5)), "interval": "1m"},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        heat = r.json()
        assert len(heat["index"]) == 176 and len(heat["values"]) == 176
        first = heat["times"][0]
        want = await conn.fetchval(
            "SELECT avg(cell_voltages[18]::float8) FROM pack_samples WHERE vehicle_id = $1 "
            "AND ts >= $2::timestamptz AND ts < $2::timestamptz + INTERVAL '1 minute'",
            OWN,
            datetime.fromisoformat(first),
        )
        assert heat["values"][17][0] == pytest.approx(want, rel=1e-9)
    finally:
        await conn.close()


async def test_fleet_summary_counts_online_and_offline(
    fleet: Fleet, client: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    c, auth = client
    r = await c.get("/v1/fleet/summary", headers=auth)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["vehicles"] == 6
    assert s["online"] == 2 and s["offline"] == 4  # only buses 1 and 2 report
    assert s["online"] == s["charging"] + s["driving"] + s["idle"]
    assert sum(b["count"] for b in s["soc_pct"]) == 2
    assert sum(b["count"] for b in s["soh_pct"]) == 2
    # Synthetic cells reach 45 degC at most: inside the default limits, outside at 40.
    assert s["outside_thermal_limits"] == []
    app = create_app(settings_for(fleet.dsn, thermal_max_c=40.0))
    async with client_for(app) as hot:
        s = (await hot.get("/v1/fleet/summary", headers=auth)).json()
    assert {t["vehicle_id"] for t in s["outside_thermal_limits"]} == {"BUS-0001", "BUS-0002"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_exports_hold_every_row_of_the_range(
    fleet: Fleet, client: tuple[httpx.AsyncClient, dict[str, str]], fmt: str
) -> None:
    c, auth = client
    lo = fleet.start + timedelta(minutes=5)
    params = {
        "start": iso(lo),
        "end": iso(lo + timedelta(minutes=20)),
        "format": fmt,
        "signals": "soc_pct,pack_current_a",
        "include": "cells",
    }
    async with c.stream("GET", f"/v1/vehicles/{OWN}/export", params=params, headers=auth) as r:
        assert r.status_code == 200
        chunks = [chunk async for chunk in r.aiter_bytes()]
    body = b"".join(chunks)
    if fmt == "csv":
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert len(rows) == 1200
        assert list(rows[0]) == ["ts", "soc_pct", "pack_current_a", "cell_voltages", "cell_temps"]
    else:
        table = pq.read_table(io.BytesIO(body))
        assert table.num_rows == 1200
        assert table.column_names == [
            "ts",
            "soc_pct",
            "pack_current_a",
            "cell_voltages",
            "cell_temps",
        ]
        # One row group per chunk of 97 rows: the file was written as it streamed.
        assert pq.ParquetFile(io.BytesIO(body)).num_row_groups == -(-1200 // 97)


async def test_operations_endpoints(fleet: Fleet, kafka_bootstrap: str) -> None:
    app = create_app(settings_for(fleet.dsn, kafka_bootstrap_servers=kafka_bootstrap))
    async with client_for(app) as c:
        assert (await c.get("/healthz")).json() == {"status": "alive", "checks": None}
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": True, "kafka": True}
        await c.get("/v1/vehicles")
        metrics = (await c.get("/metrics")).text
        assert 'packwatch_api_requests_total{method="GET",route="/v1/vehicles",status="401"}' in (
            metrics
        )
    app = create_app(settings_for(fleet.dsn, kafka_bootstrap_servers="127.0.0.1:1"))
    async with client_for(app) as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"] is False
