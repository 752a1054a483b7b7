"""Telemetry history: every interval equals SQL aggregates recomputed from the raw rows."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
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

# The same quantities, written out here from their definitions, not from rollups.py.
RECOMPUTE = {
    "n": "count(*)",
    "soc_pct_avg": "avg(soc_pct::float8)",
    "soc_pct_min": "min(soc_pct)",
    "pack_current_a_max": "max(pack_current_a)",
    "cell_temp_max_c": "max(cell_temp_max_c)",
    "power_kw_avg": "avg(pack_voltage_v::float8 * pack_current_a::float8) / 1000",
    "energy_in_kwh": "sum(greatest(pack_voltage_v::float8 * pack_current_a::float8, 0)) / 3.6e6",
    "charging_s": "count(*) FILTER (WHERE pack_current_a > 0.5)",
}
SIGNALS = [k for k in RECOMPUTE if k != "n"]


def rows_of(series: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The columnar series as one dict per bucket (or raw row)."""
    return [dict(zip(series, values, strict=True)) for values in zip(*series.values(), strict=True)]


@pytest.fixture
async def fleet(database: str) -> Fleet:
    return await prepare(database)


@pytest.fixture
async def client(fleet: Fleet) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    token = (await issue(fleet.dsn, "engineer")).token
    async with client_for(create_app(settings_for(fleet.dsn))) as c:
        yield c, bearer(token)


async def _recompute(dsn: str, width_s: int, lo: Any, hi: Any) -> list[dict[str, Any]]:
    exprs = ", ".join(f"{e} AS {k}" for k, e in RECOMPUTE.items())
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"""SELECT to_timestamp(floor(extract(epoch FROM ts) / $4) * $4) AS bucket, {exprs}
            FROM pack_samples WHERE vehicle_id = $1 AND ts >= $2 AND ts < $3
            GROUP BY 1 ORDER BY 1""",
            OWN,
            lo,
            hi,
            width_s,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


@pytest.mark.parametrize(
    ("interval", "width_s", "span"),
    [
        ("1s", 1, timedelta(minutes=3)),
        ("10s", 10, timedelta(minutes=20)),
        ("1m", 60, timedelta(hours=2)),
        ("15m", 900, timedelta(hours=2)),
        ("1h", 3600, timedelta(hours=3)),
    ],
)
async def test_downsampled_values_equal_aggregates_of_the_raw_rows(
    fleet: Fleet,
    client: tuple[httpx.AsyncClient, dict[str, str]],
    interval: str,
    width_s: int,
    span: timedelta,
) -> None:
    c, auth = client
    start = fleet.start + timedelta(seconds=37)
    r = await c.get(
        f"/v1/vehicles/{OWN}/telemetry",
        params={
            "start": iso(start),
            "end": iso(start + span),
            "interval": interval,
            "signals": ",".join(SIGNALS),
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["signals"] == SIGNALS
    lo, hi = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
    assert lo <= start and hi >= start + span
    expected = await _recompute(fleet.dsn, width_s, lo, hi)
    points = rows_of(body["series"])
    assert len(points) == len(expected) > 0
    # REAL columns travel as float4 text (shortest repr): equal to 1e-6 relative.
    for got, want in zip(points, expected, strict=True):
        assert datetime.fromisoformat(got["bucket"]) == want["bucket"]
        for key, value in want.items():
            if key == "bucket":
                continue
            assert math.isclose(got[key], value, rel_tol=1e-6, abs_tol=1e-6), (key, got, want)


async def test_raw_pages_walk_every_row_once_with_cells(
    fleet: Fleet, client: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    c, auth = client
    start, end = fleet.start, fleet.start + timedelta(minutes=10)
    params: dict[str, str] = {
        "start": iso(start),
        "end": iso(end),
        "interval": "raw",
        "signals": "soc_pct,cell_temp_max_c",
        "include": "cells",
        "limit": "250",
    }
    seen: list[str] = []
    pages = 0
    while True:
        r = await c.get(f"/v1/vehicles/{OWN}/telemetry", params=params, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        for p in rows_of(body["series"]):
            assert set(p) == {"ts", "soc_pct", "cell_temp_max_c", "cell_voltages", "cell_temps"}
            assert len(p["cell_voltages"]) == 176 and len(p["cell_temps"]) == 44
        seen += body["series"]["ts"]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 600


async def test_a_range_beyond_its_cap_is_a_400_naming_the_limit(
    fleet: Fleet, database: str
) -> None:
    token = (await issue(database, "engineer")).token
    app = create_app(settings_for(database, max_range_1m=timedelta(hours=1)))
    async with client_for(app) as c:
        r = await c.get(
            f"/v1/vehicles/{OWN}/telemetry",
            params={"start": iso(fleet.start), "end": iso(fleet.end), "interval": "1m"},
            headers=bearer(token),
        )
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "range_too_large"
    assert "1 hours" in body["reason"]
    assert body["details"]["limit_seconds"] == 3600


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"signals": "soc_pct_avg,drop_table"}, "unknown_signal"),
        ({"interval": "raw", "signals": "soc_pct_avg"}, "unknown_signal"),
        ({"interval": "raw", "cursor": "AAAA"}, "bad_cursor"),
        ({"end": "2000-01-01T00:00:00Z"}, "bad_request"),
    ],
)
async def test_bad_parameters_are_400s_with_a_reason(
    fleet: Fleet,
    client: tuple[httpx.AsyncClient, dict[str, str]],
    params: dict[str, str],
    error: str,
) -> None:
    c, auth = client
    query = {"start": iso(fleet.start), "end": iso(fleet.start + timedelta(hours=1)), **params}
    r = await c.get(f"/v1/vehicles/{OWN}/telemetry", params=query, headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == error and r.json()["reason"]
