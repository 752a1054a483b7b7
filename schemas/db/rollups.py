"""The one-minute and one-hour rollups of ``pack_samples``, for both backends.

One list of aggregates generates everything, so both backends expose the
same relation names and columns (:data:`ROLLUP_COLUMNS`):

- on TimescaleDB, ``pack_samples_1m`` is a continuous aggregate over the
  hypertable and ``pack_samples_1h`` one over the minutes (hierarchical);
- on plain PostgreSQL, both are views over *state* tables
  (``pack_samples_1m_state``, ``pack_samples_1h_state``) holding mergeable
  partial aggregates (sums and counts, minima, maxima). Ingestion merges the
  rows a batch actually inserted (``INSERT … RETURNING``) into them in the same
  transaction (:data:`INGEST_SQL`), so a replay adds nothing and an average is
  exact (sum / count of non-null values) at any lateness or order.

Energy assumes one sample per second (the bus's rate): each sample stands for
one second of power. Buckets align as TimescaleDB's ``time_bucket`` aligns
minutes and hours (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "avg", "min", "max", "sum"]


@dataclass(frozen=True)
class Agg:
    """One rollup column: what it aggregates (``expr``, over raw rows) and how."""

    name: str
    kind: Kind
    expr: str = "*"

    def raw_final(self) -> str:
        """The column computed straight from raw rows (TimescaleDB minute aggregate)."""
        if self.kind == "count":
            return "count(*)"
        if self.kind == "sum":
            return f"coalesce(sum({self.expr}), 0)"
        return f"{self.kind}({self.expr})"

    def from_minutes(self) -> str:
        """The hourly column from minute rows (TimescaleDB hierarchical aggregate).

        Averages are weighted by each minute's count of non-null values (the
        ``_cnt`` column beside them), so they equal the average over raw rows.
        """
        if self.kind in ("count", "sum"):
            return f"sum({self.name})"
        if self.kind == "avg":
            return f"sum({self.name} * {self.name}_cnt) / nullif(sum({self.name}_cnt), 0)"
        return f"{self.kind}({self.name})"

    def public(self) -> list[tuple[str, str, str, str]]:
        """(column, over raw rows, over minute rows, from plain-PostgreSQL state) of this Agg.

        An average brings its count of non-null values along (``<name>_cnt``),
        so that hours can be built from minutes exactly on either backend.
        """
        cols = [(self.name, self.raw_final(), self.from_minutes(), self.final_from_state())]
        if self.kind == "avg":
            cnt = f"{self.name}_cnt"
            cols.append((cnt, f"count({self.expr})", f"sum({cnt})", cnt))
        return cols

    def state_columns(self) -> list[tuple[str, str]]:
        """(state column, aggregate over raw rows) pairs kept on plain PostgreSQL."""
        if self.kind == "count":
            return [("n", "count(*)")]
        if self.kind == "avg":
            return [
                (f"{self.name}_sum", f"sum({self.expr})"),
                (f"{self.name}_cnt", f"count({self.expr})"),
            ]
        return [(self.name, self.raw_final())]

    def state_of_states(self) -> list[tuple[str, str]]:
        """(state column, aggregate over state rows): the partials of a wider bucket
        from those of the narrower ones inside it (hours from a batch's minutes)."""
        if self.kind == "count":
            return [("n", "sum(n)::bigint")]
        if self.kind == "avg":  # a sum stays NULL when every part is NULL, as over raw rows
            total, count = (c for c, _ in self.state_columns())
            return [(total, f"sum({total})"), (count, f"sum({count})::bigint")]
        if self.kind == "sum":
            return [(self.name, f"coalesce(sum({self.name}), 0)")]
        return [(self.name, f"{self.kind}({self.name})")]

    def merge(self, table: str) -> list[str]:
        """SET clauses merging EXCLUDED (new rows' partials) into the stored partials."""
        out = []
        for col, _ in self.state_columns():
            if self.kind == "min":
                out.append(f"{col} = LEAST({table}.{col}, EXCLUDED.{col})")
            elif self.kind == "max":
                out.append(f"{col} = GREATEST({table}.{col}, EXCLUDED.{col})")
            elif col.endswith("_sum"):
                out.append(
                    f"{col} = CASE WHEN {table}.{col} IS NULL THEN EXCLUDED.{col} "
                    f"WHEN EXCLUDED.{col} IS NULL THEN {table}.{col} "
                    f"ELSE {table}.{col} + EXCLUDED.{col} END"
                )
            else:
                out.append(f"{col} = {table}.{col} + EXCLUDED.{col}")
        return out

    def final_from_state(self) -> str:
        """The public column computed from the state columns (plain-PostgreSQL view)."""
        if self.kind == "avg":
            return f"{self.name}_sum / nullif({self.name}_cnt, 0)"
        return self.name if self.kind != "count" else "n"


# float8 before multiplying: a product summed in float4 would lose energy to rounding.
POWER = "(pack_voltage_v::float8 * pack_current_a::float8)"


def _triple(col: str) -> tuple[Agg, Agg, Agg]:
    return (
        Agg(f"{col}_min", "min", col),
        Agg(f"{col}_max", "max", col),
        Agg(f"{col}_avg", "avg", f"{col}::float8"),
    )


AGGREGATES: tuple[Agg, ...] = (
    Agg("n", "count"),
    *_triple("soc_pct"),
    *_triple("pack_voltage_v"),
    *_triple("pack_current_a"),
    Agg("power_kw_avg", "avg", f"{POWER} / 1000.0"),
    Agg("cell_voltage_min_v", "min", "cell_voltage_min_v"),
    Agg("cell_voltage_max_v", "max", "cell_voltage_max_v"),
    Agg("cell_voltage_spread_max_v", "max", "(cell_voltage_max_v - cell_voltage_min_v)"),
    Agg("cell_temp_min_c", "min", "cell_temp_min_c"),
    Agg("cell_temp_max_c", "max", "cell_temp_max_c"),
    Agg("cell_temp_mean_c", "avg", "cell_temp_mean_c::float8"),
    Agg("cell_temp_spread_max_c", "max", "(cell_temp_max_c - cell_temp_min_c)"),
    Agg("coolant_inlet_c_avg", "avg", "coolant_inlet_c::float8"),
    Agg("coolant_outlet_c_avg", "avg", "coolant_outlet_c::float8"),
    Agg("ambient_c_avg", "avg", "ambient_c::float8"),
    Agg("insulation_kohm_min", "min", "insulation_kohm"),
    Agg("speed_kmh_avg", "avg", "speed_kmh::float8"),
    Agg("speed_kmh_max", "max", "speed_kmh"),
    Agg("odometer_km_max", "max", "odometer_km"),
    Agg("energy_in_kwh", "sum", f"greatest({POWER}, 0) / 3600000.0"),
    Agg("energy_out_kwh", "sum", f"greatest(-{POWER}, 0) / 3600000.0"),
    Agg("charging_s", "sum", "(pack_current_a > 0.5)::int"),
    Agg("driving_s", "sum", "(speed_kmh > 1)::int"),
)

PUBLIC: tuple[tuple[str, str, str, str], ...] = tuple(c for a in AGGREGATES for c in a.public())
ROLLUP_COLUMNS: tuple[str, ...] = ("vehicle_id", "bucket", *(c[0] for c in PUBLIC))
MINUTE = "pack_samples_1m"
HOUR = "pack_samples_1h"
ROLLUPS = (MINUTE, HOUR)
WIDTHS = {MINUTE: "1 minute", HOUR: "1 hour"}
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
STATE_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    pair for a in AGGREGATES for pair in a.state_columns()
)
# Columns of pack_samples the aggregates read (what INSERT … RETURNING must return).
SOURCE_COLUMNS = (
    "vehicle_id", "ts", "soc_pct", "pack_voltage_v", "pack_current_a", "cell_voltage_min_v",
    "cell_voltage_max_v", "cell_temp_min_c", "cell_temp_max_c", "cell_temp_mean_c",
    "coolant_inlet_c", "coolant_outlet_c", "ambient_c", "insulation_kohm", "speed_kmh",
    "odometer_km",
)  # fmt: skip


def state_table(rollup: str) -> str:
    return f"{rollup}_state"


def _bucket(width: str, col: str = "ts") -> str:
    return f"date_bin(INTERVAL '{width}', {col}, {ORIGIN})"


def continuous_aggregate_ddl() -> list[str]:
    """CREATE statements of the two continuous aggregates (hourly built on minutes)."""
    raw = ",\n    ".join(f"{expr} AS {name}" for name, expr, _, _ in PUBLIC)
    hourly = ",\n    ".join(f"{expr} AS {name}" for name, _, expr, _ in PUBLIC)
    return [
        f"""CREATE MATERIALIZED VIEW {MINUTE} WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
    {raw}
FROM pack_samples GROUP BY vehicle_id, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA""",
        f"""CREATE MATERIALIZED VIEW {HOUR} WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
    {hourly}
FROM {MINUTE} GROUP BY vehicle_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA""",
    ]


def plain_ddl() -> list[str]:
    """CREATE statements of the state tables and rollup views on plain PostgreSQL."""
    stmts = []
    for rollup in ROLLUPS:
        cols = ",\n    ".join(
            f"{c} {'bigint' if c in {'n'} or c.endswith('_cnt') else 'double precision'}"
            for c, _ in STATE_COLUMNS
        )
        stmts.append(
            f"""CREATE TABLE {state_table(rollup)} (
    vehicle_id text NOT NULL,
    bucket timestamptz NOT NULL,
    {cols},
    CONSTRAINT pk_{rollup}_state PRIMARY KEY (vehicle_id, bucket)
)"""
        )
        finals = ",\n    ".join(f"{expr} AS {name}" for name, _, _, expr in PUBLIC)
        stmts.append(
            f"CREATE VIEW {rollup} AS SELECT vehicle_id, bucket,\n    {finals}\n"
            f"FROM {state_table(rollup)}"
        )
    return stmts


def plain_drop_ddl() -> list[str]:
    out = []
    for rollup in reversed(ROLLUPS):
        out += [f"DROP VIEW IF EXISTS {rollup}", f"DROP TABLE IF EXISTS {state_table(rollup)}"]
    return out


def _state_upsert(
    rollup: str,
    source: str,
    mode: Literal["merge", "replace"],
    *,
    time_col: str = "ts",
    states: tuple[tuple[str, str], ...] = STATE_COLUMNS,
    group: bool = True,
) -> str:
    """Upsert the ``rollup`` state of ``source``'s rows, grouped by vehicle and bucket
    of ``time_col``; ``states`` are (state column, aggregate over ``source``).
    ``group=False``: ``source`` has one row per vehicle and bucket already, and
    ``states`` are plain columns of it."""
    cols = [c for c, _ in states]
    exprs = ", ".join(e for _, e in states)
    width = WIDTHS[rollup]
    table = state_table(rollup)
    if mode == "merge":
        sets = ", ".join(s for a in AGGREGATES for s in a.merge(table))
    else:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    # ORDER BY: concurrent writers lock state rows in one order, so they cannot deadlock.
    return f"""INSERT INTO {table} (vehicle_id, bucket, {", ".join(cols)})
SELECT vehicle_id, {_bucket(width, time_col)} AS bucket, {exprs}
FROM {source}{" GROUP BY 1, 2" if group else ""} ORDER BY 1, 2
ON CONFLICT (vehicle_id, bucket) DO UPDATE SET {sets}"""


#: Hour partials from minute partials (see Agg.state_of_states).
_STATES_OF_STATES = tuple(pair for a in AGGREGATES for pair in a.state_of_states())


def _merge_both(source: str) -> str:
    """CTEs ``m`` and ``h`` merging ``source``'s rows into both rollups' state.

    The raw rows are aggregated once, into minutes (``d``); the minutes merge
    those partials, the hours the partials of their minutes. Exact for counts,
    minima and maxima, and for sums up to the order of the additions.
    """
    partials = ", ".join(f"{e} AS {c}" for c, e in STATE_COLUMNS)
    minutes = tuple((c, c) for c, _ in STATE_COLUMNS)
    return f"""d AS MATERIALIZED (
    SELECT vehicle_id, {_bucket(WIDTHS[MINUTE])} AS bucket, {partials}
    FROM {source} GROUP BY 1, 2
), m AS (
    {_state_upsert(MINUTE, "d", "merge", time_col="bucket", states=minutes, group=False)}
    RETURNING 1
), h AS (
    {_state_upsert(HOUR, "d", "merge", time_col="bucket", states=_STATES_OF_STATES)}
    RETURNING 1
)"""


#: One ingest batch on plain PostgreSQL: move the staged rows into pack_samples
#: (duplicates of stored rows are skipped) and merge exactly the inserted rows
#: into both rollups. Returns one row: ``inserted``.
INGEST_SQL = f"""WITH ins AS (
    INSERT INTO pack_samples SELECT * FROM pack_samples_stage
    ON CONFLICT (vehicle_id, ts) DO NOTHING
    RETURNING {", ".join(SOURCE_COLUMNS)}
), {_merge_both("ins")}
SELECT (SELECT count(*) FROM ins) AS inserted,
       (SELECT count(*) FROM m) AS minutes,
       (SELECT count(*) FROM h) AS hours"""

#: The same for TimescaleDB, whose continuous aggregates keep the rollups.
INGEST_SQL_TIMESCALE = """WITH ins AS (
    INSERT INTO pack_samples SELECT * FROM pack_samples_stage
    ON CONFLICT (vehicle_id, ts) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS inserted, 0::bigint AS minutes, 0::bigint AS hours"""


def _recompute(rollup: str) -> str:
    width = WIDTHS[rollup]
    touched = f"""(SELECT s.* FROM pack_samples AS s
 JOIN (SELECT DISTINCT vehicle_id, {_bucket(width)} AS b
       FROM unnest($1::text[], $2::timestamptz[]) AS u(vehicle_id, ts)) AS t
   ON s.vehicle_id = t.vehicle_id AND s.ts >= t.b AND s.ts < t.b + INTERVAL '{width}') AS src"""
    return _state_upsert(rollup, touched, "replace")


#: Recompute (replace) the minute/hour state of the buckets holding the given
#: times: $1 text[] vehicle ids, $2 timestamptz[] times. For rows written
#: outside ingestion (bulk loads, repairs) on plain PostgreSQL.
REFRESH_MINUTES_SQL = _recompute(MINUTE)
REFRESH_HOURS_SQL = _recompute(HOUR)

#: The per-connection staging table a batch is copied into before INGEST_SQL
#: (the slow path, for batches holding rows that are already stored).
STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS pack_samples_stage "
    "(LIKE pack_samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)

#: The narrow staging table: just the columns the rollups read (see INGEST_FAST).
STAGE_NARROW_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS pack_samples_stage_narrow ON COMMIT DELETE ROWS AS "
    f"SELECT {', '.join(SOURCE_COLUMNS)} FROM pack_samples WITH NO DATA"
)

#: The fast path of a batch with no duplicates: its rows were COPied straight
#: into pack_samples and their rollup columns into the narrow staging table;
#: this merges them into both rollups (the table empties at commit).
MERGE_NARROW_SQL = f"""WITH {_merge_both("pack_samples_stage_narrow")}
SELECT (SELECT count(*) FROM m) AS minutes, (SELECT count(*) FROM h) AS hours"""
