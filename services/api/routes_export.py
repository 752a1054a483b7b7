"""Exports of one vehicle's raw rows as CSV or Parquet, streamed from a server-side cursor.

The scope check runs before the first byte, so a foreign vehicle is a clean
404; the rows then flow chunk by chunk (``export_chunk_rows``) from one
read-only snapshot, at most ``export_max_rows`` of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.api import signals as sig
from services.api import timerange
from services.api.auth import Exporter, Pool
from services.api.errors import ERROR_RESPONSES
from services.api.export_formats import CELL_COLUMNS, CsvEncoder, ParquetEncoder
from services.api.params import End, SignalList, Start, VehicleId
from services.api.scope import visible_vehicle
from services.api.settings import ApiSettings
from services.api.telemetry_sql import VISIBLE

router = APIRouter(prefix="/v1", tags=["exports"], responses=ERROR_RESPONSES)

_CONTENT = {
    "text/csv": {
        "schema": {"type": "string"},
        "example": "ts,soc_pct\n2026-03-01T00:00:00+00:00,64.5\n",
    },
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}


def export_sql(columns: list[str]) -> str:
    """Rows of [$3, $4) for vehicle $1 within scope $2, oldest first, at most $5."""
    return f"""SELECT {", ".join(columns)} FROM pack_samples
WHERE vehicle_id = $1 AND {VISIBLE} AND ts >= $3 AND ts < $4 ORDER BY ts LIMIT $5"""


async def stream(
    pool: asyncpg.Pool,
    encoder: CsvEncoder | ParquetEncoder,
    sql: str,
    args: tuple[object, ...],
    chunk_rows: int,
) -> AsyncIterator[bytes]:
    """The encoded export, one chunk of rows at a time; the connection returns on exit."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(sql, *args)
        yield encoder.header()
        while rows := await cursor.fetch(chunk_rows):
            yield encoder.chunk(rows)
        yield encoder.close()


@router.get(
    "/vehicles/{vehicle_id}/export",
    summary="Raw rows of one vehicle as CSV or Parquet (streamed)",
    response_class=StreamingResponse,
    responses={200: {"description": "The export, streamed", "content": _CONTENT}},
)
async def export(
    vehicle_id: VehicleId,
    start: Start,
    end: End,
    principal: Exporter,
    pool: Pool,
    request: Request,
    format: Annotated[Literal["csv", "parquet"], Query(description="File format")] = "csv",
    signals: SignalList = None,
    include: Annotated[Literal["cells"] | None, Query(description="Add the cell arrays")] = None,
) -> StreamingResponse:
    """``ts`` and the chosen raw signals over [start, end) (at most ``max_range_export``)."""
    settings: ApiSettings = request.app.state.settings
    timerange.check(start, end, settings.max_range("export"), "an export")
    names = sig.parse(signals, sig.RAW_SIGNALS, sig.DEFAULT_RAW)
    columns = ["ts", *names, *(CELL_COLUMNS if include == "cells" else ())]
    await visible_vehicle(pool, principal, vehicle_id)
    encoder = CsvEncoder(columns) if format == "csv" else ParquetEncoder(columns)
    args = (vehicle_id, principal.depot_list, start, end, settings.export_max_rows)
    stamp = f"{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"
    filename = f"{vehicle_id}-{stamp}.{format}"
    return StreamingResponse(
        stream(pool, encoder, export_sql(columns), args, settings.export_chunk_rows),
        media_type=encoder.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
