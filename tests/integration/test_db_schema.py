"""Migrations, seed and rollups on the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.db import migrate
from schemas.db.rollups import (
    INGEST_SQL,
    MERGE_NARROW_SQL,
    PUBLIC,
    REFRESH_HOURS_SQL,
    REFRESH_MINUTES_SQL,
    SOURCE_COLUMNS,
    STAGE_DDL,
    STAGE_NARROW_DDL,
    plain_ddl,
    state_table,
)
from schemas.db.rollups import ROLLUPS as ROLLUP_VIEWS
from services.core import dbadmin
from tests.integration.db_support import array_statistics_targets, state_table_options

pytestmark = pytest.mark.integration


async def test_migrations_run_up_down_and_up_again(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    rels = set(await dbadmin.relations(database))
    assert dbadmin.expected_relations() <= rels
    await asyncio.to_thread(migrate.downgrade, database)
    assert set(await dbadmin.relations(database)) == {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, database)
    assert dbadmin.expected_relations() <= set(await dbadmin.relations(database))


async def _rollup_shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """Each rollup and its state table in ``schema``: columns (name, type with its
    modifiers, nullability, default, in order), constraints, indexes and view
    definition, printed with ``schema`` as the search path (so unqualified)."""
    await conn.execute(f"SET search_path = {schema}")
    shape: dict[str, Any] = {}
    for name in (*ROLLUP_VIEWS, *(state_table(r) for r in ROLLUP_VIEWS)):
        oid = await conn.fetchval("SELECT to_regclass($1)::oid", name)
        assert oid is not None, f"{schema}.{name} does not exist"
        shape[name] = {
            "columns": [tuple(r) for r in await conn.fetch(
                "SELECT attname, format_type(atttypid, atttypmod), attnotnull, "
                "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a LEFT JOIN pg_attrdef "
                "AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = $1 "
                "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", oid)],
            "constraints": sorted(tuple(r) for r in await conn.fetch(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = $1", oid)),
            # pg_get_indexdef names the table with its schema whatever the search path.
            "indexes": sorted(r[0].replace(f" ON {schema}.", " ON ") for r in await conn.fetch(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1", oid)),
            "view": await conn.fetchval("SELECT pg_get_viewdef($1::oid)", oid),
        }  # fmt: skip
    return shape


async def test_the_migrations_create_the_rollups_the_live_definitions_describe(
    database: str,
) -> None:
    """Migration 0001 holds its rollups written out, so it never changes with
    schemas/db/rollups.py; a change there needs a migration that takes existing
    databases along. The migrated rollups must equal the live definitions,
    created here in a scratch schema."""
    await asyncio.to_thread(migrate.upgrade, database)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE SCHEMA live")
        await conn.execute("SET search_path = live")
        for stmt in plain_ddl():
            await conn.execute(stmt)
        migrated = await _rollup_shape(conn, "public")
        live = await _rollup_shape(conn, "live")
    finally:
        await conn.close()
    assert migrated == live


async def test_write_path_storage_settings_up_and_down(database: str) -> None:
    """Migration 0004: room on each state-table page for the updated versions of its
    rows; no element statistics gathered on the cell arrays. Its downgrade restores
    the defaults."""
    await asyncio.to_thread(migrate.upgrade, database)
    conn = await asyncpg.connect(database)
    try:
        assert await state_table_options(conn) == {
            "pack_samples_1m_state": ["fillfactor=50"],
            "pack_samples_1h_state": ["fillfactor=50"],
        }
        assert await array_statistics_targets(conn, "pack_samples") == {
            "cell_voltages": 0,
            "cell_temps": 0,
        }
        await asyncio.to_thread(migrate.downgrade, database, "0003")
        assert await state_table_options(conn) == {
            "pack_samples_1m_state": None,
            "pack_samples_1h_state": None,
        }
        assert await array_statistics_targets(conn, "pack_samples") == {
            "cell_voltages": -1,
            "cell_temps": -1,
        }
    finally:
        await conn.close()


async def test_seed_is_idempotent_and_writes_both_designs(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    first = await dbadmin.seed(database, "demo", buses=12)
    second = await dbadmin.seed(database, "demo", buses=12)
    assert first == second
    conn = await asyncpg.connect(database)
    try:
        designs = await conn.fetch("SELECT design_id, chemistry, cell_supplier FROM pack_designs")
        assert {(r["chemistry"], r["cell_supplier"]) for r in designs} >= {("LFP", "CALB")}
        assert {r["chemistry"] for r in designs} == {"LFP", "NMC"}
        assert await conn.fetchval("SELECT count(*) FROM vehicles") == 12
        assert await conn.fetchval("SELECT count(*) FROM packs WHERE vehicle_id IS NULL") == 0
    finally:
        await conn.close()
    with pytest.raises(ValueError, match="unknown fleet"):
        await dbadmin.seed(database, "nope")


def _row(vehicle: str, ts: datetime, rng: random.Random) -> tuple[object, ...]:
    v = rng.uniform(600, 700)
    cells = [rng.uniform(3.1, 3.4) for _ in range(8)]
    temps = [rng.uniform(20, 40) for _ in range(4)]
    return (
        vehicle,
        ts,
        int(ts.timestamp()),
        v,
        rng.uniform(-300, 200),
        rng.uniform(10, 90),
        min(cells),
        max(cells),
        min(temps),
        max(temps),
        sum(temps) / 4,
        rng.uniform(0, 60),
        cells,
        temps,
    )


INSERT = """INSERT INTO pack_samples (vehicle_id, ts, seq, pack_voltage_v, pack_current_a,
    soc_pct, cell_voltage_min_v, cell_voltage_max_v, cell_temp_min_c, cell_temp_max_c,
    cell_temp_mean_c, speed_kmh, cell_voltages, cell_temps)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"""


async def _assert_rollups_match_raw(conn: asyncpg.Connection) -> None:
    names = [name for name, *_ in PUBLIC]
    for table, width in (("pack_samples_1m", "1 minute"), ("pack_samples_1h", "1 hour")):
        stored = await conn.fetch(
            f"SELECT vehicle_id, bucket, {', '.join(names)} FROM {table} ORDER BY 1, 2"
        )
        raw = await conn.fetch(
            f"""SELECT vehicle_id, date_bin(INTERVAL '{width}', ts,
                TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                {", ".join(f"{expr} AS {name}" for name, expr, _, _ in PUBLIC)}
            FROM pack_samples GROUP BY 1, 2 ORDER BY 1, 2"""
        )
        assert len(stored) == len(raw) > 0
        for s, r in zip(stored, raw, strict=True):
            assert (s["vehicle_id"], s["bucket"]) == (r["vehicle_id"], r["bucket"])
            for n in names:
                if r[n] is None:
                    assert s[n] is None, (table, n)
                else:
                    assert s[n] == pytest.approx(r[n], rel=1e-9, abs=1e-9), (table, n)


async def test_refresh_recomputes_rollups_of_bulk_loaded_rows(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    rng = random.Random(7)
    start = datetime(2026, 3, 1, 9, 58, 30, tzinfo=UTC)
    rows = [
        _row(f"BUS-{b}", start + timedelta(seconds=s), rng) for b in range(3) for s in range(400)
    ]
    conn = await asyncpg.connect(database)
    try:
        await conn.executemany(INSERT, rows)
        for half in (rows[::2], rows[1::2]):
            vids = [r[0] for r in half]
            tss = [r[1] for r in half]
            await conn.execute(REFRESH_MINUTES_SQL, vids, tss)
            await conn.execute(REFRESH_HOURS_SQL, vids, tss)
        await _assert_rollups_match_raw(conn)
        assert await conn.fetchval("SELECT sum(n) FROM pack_samples_1h") == len(rows)
    finally:
        await conn.close()


def _rows_across_an_hour(rng: random.Random, speed_missing_every: int) -> list[tuple[object, ...]]:
    """Five minutes of three buses across an hour's end. Some speeds are missing, so
    averages must count non-null values, not rows."""
    start = datetime(2026, 3, 1, 9, 58, 30, tzinfo=UTC)
    rows = [
        _row(f"BUS-{b}", start + timedelta(seconds=s), rng) for b in range(3) for s in range(300)
    ]
    return [
        r[:11] + (None,) + r[12:] if i % speed_missing_every == 0 else r for i, r in enumerate(rows)
    ]


def _ts(row: tuple[object, ...]) -> datetime:
    ts = row[1]
    assert isinstance(ts, datetime)
    return ts


STAGE_INSERT = INSERT.replace("INSERT INTO pack_samples ", "INSERT INTO pack_samples_stage ")


async def test_ingest_merge_keeps_rollups_exact_under_replays_and_disorder(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    rng = random.Random(11)
    rows = _rows_across_an_hour(rng, speed_missing_every=7)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    batches = [shuffled[i : i + 250] for i in range(0, len(shuffled), 250)]
    batches.append(shuffled[100:400])  # a replayed stretch: nothing may count twice
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(STAGE_DDL)
        inserted = 0
        for batch in batches:
            async with conn.transaction():
                await conn.executemany(STAGE_INSERT, batch + batch[:5])  # duplicates in-batch
                inserted += (await conn.fetchrow(INGEST_SQL))["inserted"]
        assert inserted == len(rows)
        assert await conn.fetchval("SELECT count(*) FROM pack_samples") == len(rows)
        await _assert_rollups_match_raw(conn)
    finally:
        await conn.close()


async def test_fast_path_merge_keeps_rollups_exact_under_disorder(database: str) -> None:
    """Batches without stored rows: rows go straight in, their rollup columns through
    the narrow staging table and MERGE_NARROW_SQL (the writer's fast path).

    Speeds are missing in every fifth row and in the whole minute 10:00, which comes
    in two batches, the first and the last: hour 10's speed sum is first NULL and
    then takes a value, then a NULL part merges into a value.
    """
    await asyncio.to_thread(migrate.upgrade, database)
    rng = random.Random(5)
    ten = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    rows = [
        r[:11] + (None,) + r[12:] if ten <= _ts(r) < ten + timedelta(minutes=1) else r
        for r in _rows_across_an_hour(rng, speed_missing_every=5)
    ]
    silent = [r for r in rows if ten <= _ts(r) < ten + timedelta(minutes=1)]
    rest = [r for r in rows if not ten <= _ts(r) < ten + timedelta(minutes=1)]
    rng.shuffle(rest)
    batches = [silent[:90], *(rest[i : i + 200] for i in range(0, len(rest), 200)), silent[90:]]
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(STAGE_NARROW_DDL)
        for batch in batches:
            async with conn.transaction():
                await conn.executemany(INSERT, batch)
                await conn.execute(
                    f"""INSERT INTO pack_samples_stage_narrow
                    SELECT {", ".join(f"s.{c}" for c in SOURCE_COLUMNS)} FROM pack_samples AS s
                    JOIN unnest($1::text[], $2::timestamptz[]) AS u(v, t)
                      ON s.vehicle_id = u.v AND s.ts = u.t""",
                    [r[0] for r in batch],
                    [r[1] for r in batch],
                )
                merged = await conn.fetchrow(MERGE_NARROW_SQL)
            minutes = {(r[0], _ts(r).replace(second=0)) for r in batch}
            hours = {(r[0], _ts(r).replace(minute=0, second=0)) for r in batch}
            assert (merged["minutes"], merged["hours"]) == (len(minutes), len(hours))
        assert await conn.fetchval("SELECT count(*) FROM pack_samples_stage_narrow") == 0
        await _assert_rollups_match_raw(conn)
        assert await conn.fetchval("SELECT sum(n) FROM pack_samples_1h") == len(rows)
        speeds = await conn.fetch(
            "SELECT bucket, speed_kmh_avg FROM pack_samples_1m WHERE vehicle_id = 'BUS-0' "
            "AND bucket IN ($1, $2) ORDER BY bucket",
            ten,
            ten + timedelta(minutes=1),
        )
        assert [r["speed_kmh_avg"] is None for r in speeds] == [True, False]
    finally:
        await conn.close()
