"""The one-minute and one-hour rollups of ``pack_samples``, for both backends.

One list of aggregates generates the TimescaleDB continuous aggregates and the
plain-PostgreSQL upserts that ingestion runs for the buckets a batch touched,
so the two backends hold the same columns with the same meaning.

Energy assumes one sample per second (the bus's rate): each sample stands for
one second of power. Averages of the hourly rollup are weighted by sample
count, so they equal an average over the raw rows where no value is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agg:
    """One rollup column: its aggregate over raw rows, and over minute rows."""

    name: str
    raw: str
    from_minutes: str


def _avg(col: str, name: str | None = None) -> Agg:
    n = name or f"{col}_avg"
    return Agg(n, f"avg({col})", f"sum({n} * n) / nullif(sum(n), 0)")


def _min(col: str, name: str | None = None) -> Agg:
    n = name or f"{col}_min"
    return Agg(n, f"min({col})", f"min({n})")


def _max(col: str, name: str | None = None) -> Agg:
    n = name or f"{col}_max"
    return Agg(n, f"max({col})", f"max({n})")


# float8 before multiplying: a product and sum in float4 would lose energy to rounding.
POWER = "(pack_voltage_v::float8 * pack_current_a::float8)"

AGGREGATES: tuple[Agg, ...] = (
    Agg("n", "count(*)", "sum(n)"),
    _min("soc_pct"),
    _max("soc_pct"),
    _avg("soc_pct"),
    _min("pack_voltage_v"),
    _max("pack_voltage_v"),
    _avg("pack_voltage_v"),
    _min("pack_current_a"),
    _max("pack_current_a"),
    _avg("pack_current_a"),
    Agg("power_kw_avg", f"avg{POWER} / 1000.0", "sum(power_kw_avg * n) / nullif(sum(n), 0)"),
    _min("cell_voltage_min_v", "cell_voltage_min_v"),
    _max("cell_voltage_max_v", "cell_voltage_max_v"),
    Agg(
        "cell_voltage_spread_max_v",
        "max(cell_voltage_max_v - cell_voltage_min_v)",
        "max(cell_voltage_spread_max_v)",
    ),
    _min("cell_temp_min_c", "cell_temp_min_c"),
    _max("cell_temp_max_c", "cell_temp_max_c"),
    _avg("cell_temp_mean_c", "cell_temp_mean_c"),
    Agg(
        "cell_temp_spread_max_c",
        "max(cell_temp_max_c - cell_temp_min_c)",
        "max(cell_temp_spread_max_c)",
    ),
    _avg("coolant_inlet_c"),
    _avg("coolant_outlet_c"),
    _avg("ambient_c"),
    _min("insulation_kohm"),
    _avg("speed_kmh"),
    _max("speed_kmh"),
    _max("odometer_km"),
    Agg("energy_in_kwh", f"sum(greatest({POWER}, 0)) / 3600000.0", "sum(energy_in_kwh)"),
    Agg("energy_out_kwh", f"sum(greatest(-{POWER}, 0)) / 3600000.0", "sum(energy_out_kwh)"),
    Agg("charging_s", "count(*) FILTER (WHERE pack_current_a > 0.5)", "sum(charging_s)"),
    Agg("driving_s", "count(*) FILTER (WHERE speed_kmh > 1)", "sum(driving_s)"),
)

ROLLUP_COLUMNS: tuple[str, ...] = ("vehicle_id", "bucket", *(a.name for a in AGGREGATES))
MINUTE = "pack_samples_1m"
HOUR = "pack_samples_1h"
ROLLUPS = (MINUTE, HOUR)
# Buckets align as TimescaleDB's time_bucket does for minutes and hours.
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"


def _select_list(source: str) -> str:
    exprs = [a.raw if source == "raw" else a.from_minutes for a in AGGREGATES]
    return ",\n    ".join(f"{e} AS {a.name}" for e, a in zip(exprs, AGGREGATES, strict=True))


def continuous_aggregate_ddl() -> list[str]:
    """CREATE statements of the two continuous aggregates (hourly built on minutes)."""
    return [
        f"""CREATE MATERIALIZED VIEW {MINUTE} WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
    {_select_list("raw")}
FROM pack_samples GROUP BY vehicle_id, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA""",
        f"""CREATE MATERIALIZED VIEW {HOUR} WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
    {_select_list("minutes")}
FROM {MINUTE} GROUP BY vehicle_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA""",
    ]


def plain_table_ddl() -> list[str]:
    """CREATE statements of the rollup tables on plain PostgreSQL."""
    cols = ",\n    ".join(
        f"{a.name} {'bigint' if a.name in {'n', 'charging_s', 'driving_s'} else 'double precision'}"
        for a in AGGREGATES
    )
    return [
        f"""CREATE TABLE {name} (
    vehicle_id text NOT NULL,
    bucket timestamptz NOT NULL,
    {cols},
    CONSTRAINT pk_{name} PRIMARY KEY (vehicle_id, bucket)
)"""
        for name in ROLLUPS
    ]


def _upsert(target: str, select: str) -> str:
    names = [a.name for a in AGGREGATES]
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names)
    return f"""INSERT INTO {target} ({", ".join(ROLLUP_COLUMNS)})
{select}
ON CONFLICT (vehicle_id, bucket) DO UPDATE SET {updates}"""


# $1 text[] vehicle ids, $2 timestamptz[] any time inside each touched minute.
REFRESH_MINUTES_SQL = _upsert(
    MINUTE,
    f"""SELECT s.vehicle_id, t.bucket,
    {_select_list("raw")}
FROM (SELECT DISTINCT vehicle_id, date_bin(INTERVAL '1 minute', ts, {ORIGIN}) AS bucket
      FROM unnest($1::text[], $2::timestamptz[]) AS u(vehicle_id, ts)) AS t
JOIN pack_samples AS s
  ON s.vehicle_id = t.vehicle_id AND s.ts >= t.bucket AND s.ts < t.bucket + INTERVAL '1 minute'
GROUP BY s.vehicle_id, t.bucket""",
)

# Same arguments; recomputes each touched hour from its minute rows.
REFRESH_HOURS_SQL = _upsert(
    HOUR,
    f"""SELECT m.vehicle_id, t.bucket,
    {_select_list("minutes")}
FROM (SELECT DISTINCT vehicle_id, date_bin(INTERVAL '1 hour', ts, {ORIGIN}) AS bucket
      FROM unnest($1::text[], $2::timestamptz[]) AS u(vehicle_id, ts)) AS t
JOIN {MINUTE} AS m
  ON m.vehicle_id = t.vehicle_id
 AND m.bucket >= t.bucket AND m.bucket < t.bucket + INTERVAL '1 hour'
GROUP BY m.vehicle_id, t.bucket""",
)
