"""Telemetry history at any resolution: raw rows (paged) or buckets of 1 s to 1 h.

The response body is assembled around the JSON array PostgreSQL builds (see
:mod:`services.api.telemetry_sql`), which keeps a one-day minute series cheap
enough to serve hundreds of times a second.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from schemas.common import at_micros, micros
from services.api import signals as sig
from services.api import telemetry_sql, timerange
from services.api.auth import PERMISSIONS, FleetReader, Pool
from services.api.errors import ERROR_RESPONSES, BadCursor, Forbidden, NotFound
from services.api.models import Interval, TelemetryPage
from services.api.params import End, SignalList, Start, VehicleId
from services.api.settings import ApiSettings

router = APIRouter(prefix="/v1", tags=["telemetry"], responses=ERROR_RESPONSES)

_CURSOR = struct.Struct(">Bq")  # version, microseconds since the Unix epoch


def encode_cursor(ts: datetime) -> str:
    """An opaque cursor that resumes after ``ts``."""
    us = micros(ts)
    return base64.urlsafe_b64encode(_CURSOR.pack(1, us)).decode().rstrip("=")


def decode_cursor(cursor: str) -> datetime:
    """The ts a cursor resumes after; :class:`BadCursor` for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, us = _CURSOR.unpack(raw)
        ts = at_micros(us)
    except (binascii.Error, struct.error, ValueError, OverflowError) as exc:
        raise BadCursor("the cursor is not one this API issued") from exc
    if version != 1 or not timerange.EARLIEST <= ts <= timerange.LATEST:
        raise BadCursor("the cursor is not one this API issued")
    return ts


def _body(
    head: dict[str, object], keys: list[str], row: Mapping[str, Any], next_cursor: str | None
) -> bytes:
    # json.dumps for the envelope; each column is already a JSON array from PostgreSQL.
    envelope = json.dumps({**head, "next_cursor": next_cursor})
    series = ", ".join(f'"{k}": {row[f"c{i}"]}' for i, k in enumerate(keys))
    return (envelope[:-1] + ', "series": {' + series + "}}").encode()


@router.get(
    "/vehicles/{vehicle_id}/telemetry",
    response_model=TelemetryPage,
    summary="Telemetry history of one vehicle",
)
async def telemetry(
    vehicle_id: VehicleId,
    start: Start,
    end: End,
    principal: FleetReader,
    pool: Pool,
    request: Request,
    interval: Interval = "1m",
    signals: SignalList = None,
    include: Annotated[
        Literal["cells"] | None, Query(description="raw only: add the cell arrays")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="raw only")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=100_000, description="raw only: rows per page")
    ] = None,
) -> Response:
    """Buckets (``1s``…``1h``) or raw rows of the chosen signals over [start, end).

    ``1m`` and ``1h`` come from the rollups, ``15m`` from minute rows (means
    weighted by sample count), ``1s``/``10s`` from raw rows aggregated in SQL;
    bucket ranges widen to whole buckets. ``raw`` (engineer role) pages by
    ``cursor``. A range beyond the interval's cap is a 400 that names the cap.
    """
    settings: ApiSettings = request.app.state.settings
    timerange.check(start, end, settings.max_range(interval), f"interval {interval}")
    if interval == "raw":
        if "telemetry:raw" not in PERMISSIONS[principal.role]:
            raise Forbidden(f"role {principal.role!r} may not read raw telemetry")
        names = sig.parse(signals, sig.RAW_SIGNALS, sig.DEFAULT_RAW)
        page = min(limit or settings.raw_page_default, settings.raw_page_max)
        after = decode_cursor(cursor) if cursor else None
        sql = telemetry_sql.raw_page(names, include == "cells")
        row = await pool.fetchrow(sql, vehicle_id, principal.depot_list, start, end, page, after)
        if row is None or not row["visible"]:
            raise NotFound(f"no vehicle {vehicle_id}")
        nxt = encode_cursor(row["last_ts"]) if row["more"] else None
        keys = telemetry_sql.raw_keys(names, include == "cells")
        lo, hi = start, end
    else:
        names = sig.parse(signals, sig.ROLLUP_SIGNALS, sig.DEFAULT_ROLLUP)
        step = timerange.INTERVAL_SECONDS[interval]
        lo, hi = timerange.floor(start, step), timerange.ceil(end, step)
        cap_rows = int(settings.max_range(interval).total_seconds()) // step + 2
        row = await pool.fetchrow(
            telemetry_sql.downsampled(interval, names),
            vehicle_id,
            principal.depot_list,
            lo,
            hi,
            cap_rows,
        )
        if row is None or not row["visible"]:
            raise NotFound(f"no vehicle {vehicle_id}")
        nxt = None
        keys = telemetry_sql.downsampled_keys(names)
    head: dict[str, object] = {
        "vehicle_id": vehicle_id,
        "interval": interval,
        "start": lo.isoformat(),
        "end": hi.isoformat(),
        "signals": names,
    }
    return Response(_body(head, keys, row, nxt), media_type="application/json")
