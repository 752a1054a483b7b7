"""pack_health upserts: one row per (pack, vehicle time), a rescored row replaces the old one.

``HealthScore.weak_cell_indices`` is stored in the table's ``weak_cells`` column.
Transient database errors (:func:`services.core.errors.is_retriable`) are
retried with back-off until the service stops; anything else propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from schemas.events import HealthScore
from services.core.errors import with_retries

_UPSERT = """
INSERT INTO pack_health (vehicle_id, pack_id, ts, soh_pct, soh_low_pct, soh_high_pct,
                         capacity_ah, resistance_growth_pct, weak_cells, model_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (pack_id, ts) DO UPDATE SET
    vehicle_id = EXCLUDED.vehicle_id, soh_pct = EXCLUDED.soh_pct,
    soh_low_pct = EXCLUDED.soh_low_pct, soh_high_pct = EXCLUDED.soh_high_pct,
    capacity_ah = EXCLUDED.capacity_ah, resistance_growth_pct = EXCLUDED.resistance_growth_pct,
    weak_cells = EXCLUDED.weak_cells, model_version = EXCLUDED.model_version,
    computed_at = now()
"""


def health_row(h: HealthScore) -> tuple[object, ...]:
    """The pack_health row of a HealthScore (a pack without a serial is keyed by its bus)."""
    return (
        h.vehicle_id, h.pack_id or f"vehicle:{h.vehicle_id}", h.ts, h.soh_pct, h.soh_low_pct,
        h.soh_high_pct, h.capacity_ah, h.resistance_growth_pct, list(h.weak_cell_indices),
        h.model_version,
    )  # fmt: skip


async def write_health(
    pool: asyncpg.Pool,
    rows: list[HealthScore],
    *,
    stopping: Callable[[], bool],
    retry_initial_s: float = 0.2,
    retry_max_s: float = 5.0,
) -> None:
    """Upsert ``rows`` in one transaction; retries transient failures until ``stopping()``."""
    if not rows:
        return

    async def upsert() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(_UPSERT, [health_row(h) for h in rows])

    await with_retries(upsert, what="pack_health_write", stopping=stopping,
                       retry_initial_s=retry_initial_s, retry_max_s=retry_max_s)  # fmt: skip
