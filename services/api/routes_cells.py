"""Cell voltages and temperatures: one instant, or a window shaped for a heatmap."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from schemas.db.rollups import ORIGIN
from services.api import timerange
from services.api.auth import Pool, RawReader
from services.api.errors import ERROR_RESPONSES, NotFound, RangeTooLarge
from services.api.models import CellHeatmap, CellSnapshot
from services.api.params import End, Start, VehicleId
from services.api.scope import visible_vehicle
from services.api.settings import ApiSettings

router = APIRouter(prefix="/v1", tags=["cells"], responses=ERROR_RESPONSES)

SNAPSHOT_SQL = """SELECT s.ts, s.cell_voltages, s.cell_temps, d.sensor_cells
FROM pack_samples AS s
LEFT JOIN packs AS p ON p.pack_id = s.pack_id
LEFT JOIN pack_designs AS d ON d.design_id = p.design_id
WHERE s.vehicle_id = $1 AND ($2::timestamptz IS NULL OR s.ts <= $2::timestamptz)
ORDER BY s.ts DESC LIMIT 1"""

# The array column per quantity: a fixed map, so no request text reaches SQL.
_ARRAY = {"voltage": "cell_voltages", "temperature": "cell_temps"}
_STEP = {"1s": 1, "10s": 10, "1m": 60, "15m": 900}


def _heatmap_sql(column: str) -> str:
    return f"""SELECT date_bin($4::interval, s.ts, {ORIGIN}) AS bucket, u.i - 1 AS idx,
    avg(u.v)::float8 AS v
FROM pack_samples AS s, unnest(s.{column}) WITH ORDINALITY AS u(v, i)
WHERE s.vehicle_id = $1 AND s.ts >= $2 AND s.ts < $3
GROUP BY 1, 2 ORDER BY 2, 1"""


@router.get(
    "/vehicles/{vehicle_id}/cells/snapshot",
    response_model=CellSnapshot,
    summary="Every cell's voltage and every sensor's temperature at one instant",
)
async def cell_snapshot(
    vehicle_id: VehicleId,
    principal: RawReader,
    pool: Pool,
    at: Annotated[
        AwareDatetime | None, Query(description="The latest sample at or before; default now")
    ] = None,
) -> dict[str, Any]:
    if at is not None:
        timerange.check(at - timedelta(seconds=1), at, timedelta(seconds=1), "at")
    async with pool.acquire() as conn:
        await visible_vehicle(conn, principal, vehicle_id)
        row = await conn.fetchrow(SNAPSHOT_SQL, vehicle_id, at)
    if row is None:
        raise NotFound(f"no sample of {vehicle_id} at or before {at or 'now'}")
    sensors = json.loads(row["sensor_cells"]) if row["sensor_cells"] is not None else None
    return {
        "vehicle_id": vehicle_id,
        "ts": row["ts"],
        "cell_voltages_v": list(row["cell_voltages"]),
        "cell_temps_c": list(row["cell_temps"]),
        "sensor_cells": sensors,
    }


@router.get(
    "/vehicles/{vehicle_id}/cells/heatmap",
    response_model=CellHeatmap,
    summary="Cell voltages or temperatures over a window: cell index x time",
)
async def cell_heatmap(
    vehicle_id: VehicleId,
    start: Start,
    end: End,
    principal: RawReader,
    pool: Pool,
    request: Request,
    quantity: Literal["voltage", "temperature"] = "voltage",
    interval: Literal["1s", "10s", "1m", "15m"] = "1m",
) -> dict[str, Any]:
    """``values[i][j]``: the mean of cell (voltage) or sensor (temperature) ``i`` in bucket ``j``.

    At most ``heatmap_max_columns`` buckets; a wider window needs a coarser interval.
    """
    settings: ApiSettings = request.app.state.settings
    timerange.check(start, end, settings.max_range("cells"), "the cell heatmap")
    step = _STEP[interval]
    lo, hi = timerange.floor(start, step), timerange.ceil(end, step)
    columns = int((hi - lo).total_seconds()) // step
    if columns > settings.heatmap_max_columns:
        raise RangeTooLarge(
            f"a heatmap has at most {settings.heatmap_max_columns} columns; "
            f"{interval} over this window makes {columns}: choose a coarser interval",
            limit_columns=settings.heatmap_max_columns,
            requested_columns=columns,
        )
    async with pool.acquire() as conn:
        await visible_vehicle(conn, principal, vehicle_id)
        rows = await conn.fetch(
            _heatmap_sql(_ARRAY[quantity]), vehicle_id, lo, hi, timedelta(seconds=step)
        )
    times: list[datetime] = sorted({r["bucket"] for r in rows})
    col = {t: j for j, t in enumerate(times)}
    width = max((r["idx"] for r in rows), default=-1) + 1
    values: list[list[float | None]] = [[None] * len(times) for _ in range(width)]
    for r in rows:
        values[r["idx"]][col[r["bucket"]]] = r["v"]
    return {
        "vehicle_id": vehicle_id,
        "quantity": quantity,
        "interval": interval,
        "times": times,
        "index": list(range(width)),
        "values": values,
    }
