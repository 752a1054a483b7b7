"""TimescaleDB specifics: which backend a connection is on, and its extra DDL.

Sizing (see ``docs/storage-sizing.md``): a bus-second row with 192 cell
voltages and 48 temperatures is about 1.2 kB on disk, so 1,000 buses write
~100 GB a day raw. One-hour chunks keep a chunk of a 1,000-bus fleet near
4 GB, well inside memory for the hot chunk's indexes; compression (segment by
vehicle, order by time) takes it to roughly a tenth after ``compress_after``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from schemas.db.rollups import HOUR, MINUTE


@dataclass(frozen=True)
class TimescalePolicy:
    """Chunking, compression, retention and refresh choices; from the environment."""

    chunk_interval: str = "1 hour"
    health_chunk_interval: str = "30 days"
    compress_after: str = "7 days"
    raw_retention: str = "400 days"
    minute_retention: str = "800 days"
    minute_refresh_start: str = "3 days"
    minute_refresh_end: str = "1 minute"
    minute_refresh_every: str = "1 minute"
    hour_refresh_start: str = "7 days"
    hour_refresh_end: str = "1 hour"
    hour_refresh_every: str = "10 minutes"

    @classmethod
    def from_env(cls) -> TimescalePolicy:
        """Each field may be set as ``PACKWATCH_TS_<FIELD>`` (``PACKWATCH_TS_COMPRESS_AFTER``)."""
        values = {
            name: os.environ[f"PACKWATCH_TS_{name.upper()}"]
            for name in cls.__dataclass_fields__
            if f"PACKWATCH_TS_{name.upper()}" in os.environ
        }
        return cls(**values)


BACKEND_ENV = "PACKWATCH_DB_BACKEND"  # auto | timescale | postgres

DETECT_SQL = "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"


def wanted_backend(timescale_available: bool) -> str:
    """'timescale' or 'postgres', from the environment and what the server offers."""
    choice = os.environ.get(BACKEND_ENV, "auto")
    if choice not in {"auto", "timescale", "postgres"}:
        raise ValueError(f"{BACKEND_ENV} must be auto, timescale or postgres, not {choice!r}")
    if choice == "timescale" and not timescale_available:
        raise RuntimeError(f"{BACKEND_ENV}=timescale but the server has no timescaledb extension")
    if choice == "auto":
        return "timescale" if timescale_available else "postgres"
    return choice


def hypertable_ddl(p: TimescalePolicy) -> list[str]:
    """Statements run after the tables exist: hypertables and raw-data policies."""
    return [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        f"SELECT create_hypertable('pack_samples', by_range('ts', INTERVAL '{p.chunk_interval}'))",
        "SELECT create_hypertable('pack_health', "
        f"by_range('ts', INTERVAL '{p.health_chunk_interval}'))",
        "ALTER TABLE pack_samples SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'vehicle_id', timescaledb.compress_orderby = 'ts DESC')",
        f"SELECT add_compression_policy('pack_samples', INTERVAL '{p.compress_after}')",
        f"SELECT add_retention_policy('pack_samples', INTERVAL '{p.raw_retention}')",
    ]


def aggregate_policy_ddl(p: TimescalePolicy) -> list[str]:
    """Refresh and retention policies of the continuous aggregates."""
    return [
        f"SELECT add_continuous_aggregate_policy('{MINUTE}', "
        f"start_offset => INTERVAL '{p.minute_refresh_start}', "
        f"end_offset => INTERVAL '{p.minute_refresh_end}', "
        f"schedule_interval => INTERVAL '{p.minute_refresh_every}')",
        f"SELECT add_continuous_aggregate_policy('{HOUR}', "
        f"start_offset => INTERVAL '{p.hour_refresh_start}', "
        f"end_offset => INTERVAL '{p.hour_refresh_end}', "
        f"schedule_interval => INTERVAL '{p.hour_refresh_every}')",
        f"SELECT add_retention_policy('{MINUTE}', INTERVAL '{p.minute_retention}')",
    ]
