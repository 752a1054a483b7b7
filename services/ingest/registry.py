"""Which pack design each vehicle carries: the limits its samples are checked against."""

from __future__ import annotations

import time

import asyncpg
import structlog

from schemas.limits import PackLimits
from schemas.pack_sample import PackSample

log = structlog.get_logger(__name__)

DESIGNS_SQL = """
SELECT v.vehicle_id, d.cells_series, d.temp_sensors
FROM vehicles v
JOIN packs p ON p.vehicle_id = v.vehicle_id AND p.removed_at IS NULL
JOIN pack_designs d ON d.design_id = p.design_id"""


class DesignRegistry:
    """Vehicle id → :class:`PackLimits`, loaded from the fleet registry.

    A sample from a vehicle the cache does not know triggers a reload, at most
    once per ``refresh_s``, so a bus registered a minute ago is accepted
    without restarting the service.
    """

    def __init__(self, refresh_s: float = 10.0) -> None:
        self._limits: dict[str, PackLimits] = {}
        self._by_shape: dict[tuple[int, int], PackLimits] = {}
        self._refresh_s = refresh_s
        self._loaded_at = float("-inf")

    def __call__(self, sample: PackSample) -> PackLimits | None:
        return self._limits.get(sample.vehicle_id)

    def limits_of(self, vehicle_id: str) -> PackLimits | None:
        return self._limits.get(vehicle_id)

    def __len__(self) -> int:
        return len(self._limits)

    def may_refresh(self) -> bool:
        return time.monotonic() - self._loaded_at >= self._refresh_s

    async def refresh(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        rows = await conn.fetch(DESIGNS_SQL)
        limits: dict[str, PackLimits] = {}
        for r in rows:
            shape = (r["cells_series"], r["temp_sensors"])
            if shape not in self._by_shape:
                self._by_shape[shape] = PackLimits(cells_in_series=shape[0], temp_sensors=shape[1])
            limits[r["vehicle_id"]] = self._by_shape[shape]
        if len(limits) != len(self._limits):
            log.info("registry_loaded", vehicles=len(limits))
        self._limits = limits
        self._loaded_at = time.monotonic()
