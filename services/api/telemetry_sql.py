"""SQL of the telemetry queries, built from allow-listed names only.

Every statement takes ``$1`` vehicle id and ``$2`` depot scope (``text[]``,
NULL = all) and returns one row: ``visible`` (the vehicle exists within the
scope) and one JSON array per key, ``c0``, ``c1``… in :func:`keys` order
(columnar: built by PostgreSQL, so a one-day minute series costs the API a
few strings, not 1,440 Python dicts; one array per column is also about
twice as cheap for PostgreSQL to render as one object per row). The data is
filtered on the same visibility, so a foreign vehicle's rows are never read
into a result.

Printing the values is most of a one-day minute query's cost (about 0.2 µs
per value in json_agg; reading the 1,440 rows is about 0.4 ms). Measured
alternatives on PostgreSQL 18, none better: ``string_agg`` of ``::text``,
``array_agg(...)::text`` and ``array_to_json`` print at the same cost; binary
``array_agg`` for the API to print with msgspec saves PostgreSQL ~0.9 ms and
costs the API as much (asyncpg decoding the arrays, msgspec printing), and
on shared cores only the sum counts.
"""

from __future__ import annotations

from schemas.db.rollups import AGGREGATES, HOUR, MINUTE, ORIGIN
from schemas.db.tables import pack_samples

VISIBLE = (
    "EXISTS (SELECT 1 FROM vehicles WHERE vehicle_id = $1 "
    "AND ($2::text[] IS NULL OR depot_id = ANY($2::text[])))"
)
_AGG = {a.name: a for a in AGGREGATES}
# Column names of pack_samples: a second guard that nothing else reaches SQL text.
_COLUMNS = frozenset(c.name for c in pack_samples.columns)
_WIDTH = {"1s": "1 second", "10s": "10 seconds", "15m": "15 minutes"}


def _columns(keys: list[str], order: str) -> str:
    # ORDER BY inside each aggregate makes the order certain; the input is
    # already sorted by it, so PostgreSQL (16+) does not sort again.
    return ", ".join(
        f"coalesce(json_agg({k} ORDER BY {order}), '[]')::text AS c{i}" for i, k in enumerate(keys)
    )


def _wrap(inner: str, keys: list[str], order: str) -> str:
    return f"""SELECT {VISIBLE} AS visible, {_columns(keys, order)} FROM ({inner}) AS q"""


def downsampled_keys(signals: list[str]) -> list[str]:
    """The keys of a downsampled result, in column order."""
    return ["bucket", "n", *signals]


def raw_keys(signals: list[str], cells: bool) -> list[str]:
    """The keys of a raw page, in column order."""
    return ["ts", *signals, *(("cell_voltages", "cell_temps") if cells else ())]


def downsampled(interval: str, signals: list[str]) -> str:
    """Buckets of ``interval`` over [$3, $4), at most $5 rows: ``bucket``, ``n``, signals.

    1m and 1h read the rollups; 15m merges minute rows (means weighted by
    sample count); 1s and 10s aggregate raw rows with the rollups' own
    expressions, so every interval means the same by the same name.
    """
    for s in signals:
        if s not in _AGG:
            raise ValueError(f"not a rollup signal: {s}")
    keys = downsampled_keys(signals)
    where = f"vehicle_id = $1 AND {VISIBLE}"
    if interval in ("1m", "1h"):
        rel = MINUTE if interval == "1m" else HOUR
        inner = (
            f"SELECT {', '.join(keys)} FROM {rel} WHERE {where} "
            "AND bucket >= $3 AND bucket < $4 ORDER BY bucket LIMIT $5"
        )
    elif interval == "15m":
        cols = ", ".join(f"{_AGG[s].from_minutes()} AS {s}" for s in ["n", *signals])
        inner = (
            f"SELECT date_bin(INTERVAL '15 minutes', bucket, {ORIGIN}) AS bucket, {cols} "
            f"FROM {MINUTE} WHERE {where} AND bucket >= $3 AND bucket < $4 "
            "GROUP BY 1 ORDER BY 1 LIMIT $5"
        )
    elif interval in ("1s", "10s"):
        cols = ", ".join(f"{_AGG[s].raw_final()} AS {s}" for s in ["n", *signals])
        inner = (
            f"SELECT date_bin(INTERVAL '{_WIDTH[interval]}', ts, {ORIGIN}) AS bucket, {cols} "
            f"FROM pack_samples WHERE {where} AND ts >= $3 AND ts < $4 "
            "GROUP BY 1 ORDER BY 1 LIMIT $5"
        )
    else:
        raise ValueError(f"not a downsampled interval: {interval}")
    return _wrap(inner, keys, "bucket")


def raw_page(signals: list[str], cells: bool) -> str:
    """Raw rows over [$3, $4) after cursor $6 (timestamptz or NULL), $5 rows per page.

    Columns as :func:`raw_keys`.

    Adds ``last_ts`` (the page's last ts) and ``more`` (rows remain): one
    row beyond the page is read to know that without a second query.
    """
    cols = raw_keys(signals, cells)
    for c in cols:
        if c not in _COLUMNS:
            raise ValueError(f"not a pack_samples column: {c}")
    return f"""WITH page AS (
    SELECT {", ".join(cols)}, row_number() OVER (ORDER BY ts) AS rn FROM (
        SELECT {", ".join(cols)} FROM pack_samples
        WHERE vehicle_id = $1 AND {VISIBLE} AND ts >= $3 AND ts < $4
          AND ($6::timestamptz IS NULL OR ts > $6::timestamptz)
        ORDER BY ts LIMIT $5 + 1) AS s)
SELECT {VISIBLE} AS visible, q.*,
    (SELECT max(ts) FROM page WHERE rn <= $5) AS last_ts,
    (SELECT count(*) > $5 FROM page) AS more
FROM (SELECT {_columns(cols, "ts")} FROM page WHERE rn <= $5) AS q"""
