"""Settings of the API process (environment prefix ``PACKWATCH_API_``).

Caps bound what one request may ask for: the widest time range each interval
serves, rows per raw page, rows per export, and how long any statement may
run. A request beyond a cap gets a 400 that names the cap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.core.settings import CoreSettings


class ApiSettings(CoreSettings):
    """Where the API listens and how much one request may take.

    The shared fields (broker, database, state folder, logging) keep their
    ``PACKWATCH_`` names, as for every other service; only the API's own
    fields take the ``PACKWATCH_API_`` prefix.
    """

    model_config = SettingsConfigDict(
        env_prefix="PACKWATCH_API_", extra="ignore", frozen=True, populate_by_name=True
    )

    @model_validator(mode="before")
    @classmethod
    def _shared_fields_from_core(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        core = CoreSettings()
        for name in core.model_fields_set:
            data.setdefault(name, getattr(core, name))
        return data

    host: str = "127.0.0.1"
    port: int = 8080
    pool_min_size: int = 2
    pool_max_size: int = 16
    statement_timeout_ms: int = Field(default=5000, ge=100)
    # How long a token's row is kept in memory (0 = read it on every request).
    # `packwatch token revoke` takes effect at once regardless; any other change
    # to a token reaches the API within this many seconds (token_cache.py).
    token_cache_s: float = Field(default=5.0, ge=0, le=300)

    # Widest range per interval: each keeps a response near 10,000 points at most.
    max_range_raw: timedelta = timedelta(days=1)
    max_range_1s: timedelta = timedelta(hours=3)
    max_range_10s: timedelta = timedelta(days=1)
    max_range_1m: timedelta = timedelta(days=7)
    max_range_15m: timedelta = timedelta(days=92)
    max_range_1h: timedelta = timedelta(days=366)
    max_range_cells: timedelta = timedelta(days=1)
    max_range_export: timedelta = timedelta(days=7)

    raw_page_default: int = 1000
    raw_page_max: int = Field(default=5000, ge=1)
    heatmap_max_columns: int = Field(default=720, ge=1)
    export_chunk_rows: int = Field(default=5000, ge=1)
    export_max_rows: int = Field(default=1_000_000, ge=1)
    list_max: int = Field(default=500, ge=1)
    fleet_max_vehicles: int = Field(default=10_000, ge=1)

    # A vehicle whose latest sample is older than this counts as offline.
    online_window: timedelta = timedelta(minutes=2)
    # Cell temperature envelope of both shipped chemistries while operating
    # (LFP and NMC cells of bus packs: roughly -10 to 55 degC); outside = "thermal".
    thermal_min_c: float = -10.0
    thermal_max_c: float = 55.0
    # How long the readiness probe waits for each dependency.
    ready_timeout_s: float = 2.0

    def max_range(self, interval: str) -> timedelta:
        """The widest range ``interval`` (raw, 1s, 10s, 1m, 15m, 1h, cells, export) serves."""
        value: timedelta = getattr(self, f"max_range_{interval}")
        return value
