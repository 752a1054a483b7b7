"""Stored history a restarted scorer needs beyond its warm-up: the insulation's day.

The insulation check compares each reading with the highest of the last 24
clock hours (:data:`models.detector.INSULATION_RATIO`). A scorer's windows are
in memory, and a restart replays only the warm-up (:mod:`services.scoring.warm`,
35 minutes), so without the stored hours a slow fall under way at a restart
would be measured from its fallen level. For each vehicle new to a scorer, or
back after an hour without samples (a partition taken back from another
member), this reads the hours up to its first sample from the rollups (one
query for all the vehicles waiting) and hands them to the detector, which
merges them into the pack's ring (:meth:`models.detector.Detector.seed_insulation`).

The rollups keep the insulation's minimum of each minute and hour
(``insulation_kohm_min``), not its maximum. Within an hour the healthy
humidity swing moves it by a few per cent. A seed can only make the day's
peak lower than an uninterrupted scorer's, never higher, so the seeded check
raises no fault an uninterrupted one would not (and may clear one a little
sooner). It knows only what ingestion has stored: after a restart of the whole
stack, hours ingestion has not yet written are missing. The hours come from
``pack_samples_1h``; the last :data:`MINUTES_BACK_H` from ``pack_samples_1m``
as well, because on TimescaleDB the hourly aggregate is refreshed behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import asyncpg
import numpy as np
import numpy.typing as npt

from models.thermal import INS_HOURS
from schemas.db.rollups import HOUR, MINUTE, ORIGIN
from services.core.errors import with_retries

F64 = npt.NDArray[np.float64]
#: Per vehicle: clock hours (unix seconds // 3600) and a reading of each (kOhm).
History = dict[str, tuple[F64, F64]]
#: How far back the minute rollup is read as well: on TimescaleDB the hourly
#: aggregate's newest stored hour can start ~2 h 10 min back with the default
#: refresh policy (schemas/db/timescale.py: an end offset of 1 hour, every 10
#: minutes, whole buckets); the minutes (refreshed every minute) cover it.
MINUTES_BACK_H = 3

_QUERY = f"""
WITH v(vehicle_id, first) AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]))
SELECT h.vehicle_id, h.bucket, h.insulation_kohm_min
FROM v JOIN {HOUR} h ON h.vehicle_id = v.vehicle_id
    AND h.bucket > v.first - INTERVAL '{INS_HOURS} hours' AND h.bucket <= v.first
UNION ALL
SELECT m.vehicle_id, date_bin(INTERVAL '1 hour', m.bucket, {ORIGIN}), min(m.insulation_kohm_min)
FROM v JOIN {MINUTE} m ON m.vehicle_id = v.vehicle_id
    AND m.bucket > v.first - INTERVAL '{MINUTES_BACK_H} hours' AND m.bucket <= v.first
GROUP BY 1, 2
"""


async def insulation_history(
    pool: asyncpg.Pool,
    first_ts: Mapping[str, float],
    *,
    stopping: Callable[[], bool],
    retry_initial_s: float = 0.2,
    retry_max_s: float = 5.0,
) -> History:
    """Per vehicle of ``first_ts`` (its first sample's unix seconds): the stored
    clock hours of the INS_HOURS up to it (its own hour included; unix seconds //
    3600) and the lowest reading of each (kOhm). Vehicles with no stored hours
    are left out."""
    if not first_ts:
        return {}
    vids = list(first_ts)
    firsts = [datetime.fromtimestamp(first_ts[v], tz=UTC) for v in vids]

    async def fetch() -> list[asyncpg.Record]:
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(_QUERY, vids, firsts)
            return rows

    rows = await with_retries(fetch, what="insulation_history", stopping=stopping,
                              retry_initial_s=retry_initial_s, retry_max_s=retry_max_s)  # fmt: skip
    per: dict[str, dict[float, float]] = {}
    for vid, bucket, kohm in rows:
        if kohm is None or math.isnan(kohm):
            continue
        hours = per.setdefault(vid, {})
        h = float(int(bucket.timestamp()) // 3600)
        hours[h] = max(hours.get(h, kohm), kohm)
    return {
        vid: (np.array(list(h), dtype=np.float64), np.array(list(h.values()), dtype=np.float64))
        for vid, h in per.items()
    }
