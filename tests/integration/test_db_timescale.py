"""The migrations on TimescaleDB (the compatibility target): hypertables, compression,
continuous aggregates and policies exist as designed, and the aggregates compute
the same rollups as plain PostgreSQL's."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from schemas.db import migrate
from schemas.db.rollups import PUBLIC
from services.core import dbadmin
from tests.integration.db_support import array_statistics_targets

pytestmark = [pytest.mark.integration, pytest.mark.timescale]


@pytest.fixture(scope="module")
async def migrated(timescale_dsn: str) -> str:
    await asyncio.to_thread(migrate.upgrade, timescale_dsn)
    return timescale_dsn


async def test_hypertables_compression_aggregates_and_policies(migrated: str) -> None:
    objects = await dbadmin.timescale_objects(migrated)
    assert objects["hypertables"] == ["pack_health", "pack_samples"]
    assert objects["continuous_aggregates"] == ["pack_samples_1h", "pack_samples_1m"]
    compression = {(c["table"], c["column"]): c for c in objects["compression"]}
    assert compression[("pack_samples", "vehicle_id")]["segmentby"] == 1
    assert compression[("pack_samples", "ts")]["orderby"] == 1
    assert compression[("pack_samples", "ts")]["orderby_asc"] is False
    policies = {(p["policy"], p["relation"]) for p in objects["policies"]}
    assert {
        ("policy_compression", "pack_samples"),
        ("policy_retention", "pack_samples"),
        ("policy_refresh_continuous_aggregate", "pack_samples_1m"),
        ("policy_refresh_continuous_aggregate", "pack_samples_1h"),
        ("policy_retention", "pack_samples_1m"),
    } <= policies
    assert set(await dbadmin.relations(migrated)) >= dbadmin.expected_relations()


async def test_continuous_aggregates_equal_a_recomputation_from_raw_rows(migrated: str) -> None:
    rng = random.Random(9)
    start = datetime(2026, 5, 4, 10, 58, 0, tzinfo=UTC)
    rows = []
    for b in range(2):
        for s in range(0, 240, 2):
            v = rng.uniform(600, 700)
            cells = [rng.uniform(3.1, 3.4) for _ in range(4)]
            temps = [rng.uniform(20, 40) for _ in range(2)]
            rows.append(
                (f"TS-{b}", start + timedelta(seconds=s), s, v, rng.uniform(-300, 200),
                 rng.uniform(10, 90), min(cells), max(cells), min(temps), max(temps),
                 sum(temps) / 2, None if s % 10 == 0 else rng.uniform(0, 60), cells, temps)
            )  # fmt: skip
    conn = await asyncpg.connect(migrated, statement_cache_size=0)
    try:
        # No COPY on this target: INSERTs.
        await conn.executemany(
            """INSERT INTO pack_samples (vehicle_id, ts, seq, pack_voltage_v, pack_current_a,
            soc_pct, cell_voltage_min_v, cell_voltage_max_v, cell_temp_min_c, cell_temp_max_c,
            cell_temp_mean_c, speed_kmh, cell_voltages, cell_temps)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
            rows,
        )
        await conn.execute("CALL refresh_continuous_aggregate('pack_samples_1m', NULL, NULL)")
        await conn.execute("CALL refresh_continuous_aggregate('pack_samples_1h', NULL, NULL)")
        names = [name for name, *_ in PUBLIC]
        for table, width, expected_rows in (
            ("pack_samples_1m", "1 minute", 2 * 4),
            ("pack_samples_1h", "1 hour", 2 * 2),
        ):
            stored = await conn.fetch(
                f"SELECT vehicle_id, bucket, {', '.join(names)} FROM {table} ORDER BY 1, 2"
            )
            raw = await conn.fetch(
                f"""SELECT vehicle_id, time_bucket(INTERVAL '{width}', ts) AS bucket,
                    {", ".join(f"{expr} AS {name}" for name, expr, _, _ in PUBLIC)}
                FROM pack_samples GROUP BY 1, 2 ORDER BY 1, 2"""
            )
            assert len(stored) == len(raw) == expected_rows, table
            for s, r in zip(stored, raw, strict=True):
                for n in names:
                    if r[n] is None:
                        assert s[n] is None, (table, n)
                    else:
                        assert s[n] == pytest.approx(r[n], rel=1e-6, abs=1e-6), (table, n)
    finally:
        await conn.close()


async def test_array_statistics_off_on_chunks_that_exist_before_migration_0004(
    migrated: str,
) -> None:
    """Migration 0004's statistics targets reach the chunks already there (TimescaleDB
    passes the hypertable's on), and its downgrade resets them. (This target serves
    one connection at a time: each step opens its own.)"""

    async def targets(*relations: str) -> list[dict[str, int]]:
        conn = await asyncpg.connect(migrated, statement_cache_size=0)
        try:
            return [await array_statistics_targets(conn, r) for r in relations]
        finally:
            await conn.close()

    await asyncio.to_thread(migrate.downgrade, migrated, "0003")
    try:
        conn = await asyncpg.connect(migrated, statement_cache_size=0)
        try:
            await conn.execute(
                """INSERT INTO pack_samples (vehicle_id, ts, seq, pack_voltage_v,
                pack_current_a, soc_pct, cell_voltages, cell_temps)
                VALUES ('TS-STATS', '2026-07-01 12:00:00+00', 1, 650, 0, 50, '{3.3}', '{25}')"""
            )
            chunk = await conn.fetchval(
                "SELECT tableoid::regclass::text FROM pack_samples WHERE vehicle_id = 'TS-STATS'"
            )
        finally:
            await conn.close()
        assert chunk != "pack_samples"
        default = {"cell_voltages": -1, "cell_temps": -1}
        off = {"cell_voltages": 0, "cell_temps": 0}
        assert await targets("pack_samples", chunk) == [default, default]
        await asyncio.to_thread(migrate.upgrade, migrated)
        assert await targets("pack_samples", chunk) == [off, off]
        await asyncio.to_thread(migrate.downgrade, migrated, "0003")
        assert await targets("pack_samples", chunk) == [default, default]
    finally:
        await asyncio.to_thread(migrate.upgrade, migrated)


class _OneConnection:
    """A pool of one open connection. An asyncpg pool resets a connection it takes
    back (RESET ALL), and on this target every client shares one backend: the reset
    would reach the other tests' sessions."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


async def test_a_restarted_scorers_insulation_history_reads_the_aggregates(migrated: str) -> None:
    """services.scoring.history on the continuous aggregates: each stored hour's lowest
    insulation reading of the 24 hours up to a vehicle's first sample; the hours the
    hourly aggregate has not stored yet from the minutes."""
    from services.scoring.history import insulation_history

    first = datetime(2026, 5, 6, 9, 40, tzinfo=UTC)
    readings = [  # (minutes from the first sample, kOhm)
        (-24 * 60 - 10, 9000.0),  # 2026-05-05 09:30: its hour is more than a day back
        (-24 * 60 + 25, 6000.0),  # 2026-05-05 10:05: the day's first hour
        (-20 * 60, 5500.0),  # hourly aggregate only (beyond the minutes read)
        (-90, 5000.0), (-70, 4000.0),  # 08:10 and 08:30
        (-40, 3000.0), (-10, 2500.0),  # 09:00 and 09:30: minutes only (below)
        (30, 9000.0),  # after the first sample's hour: the scorer reads it itself
    ]  # fmt: skip
    conn = await asyncpg.connect(migrated, statement_cache_size=0)
    try:
        await conn.executemany(
            """INSERT INTO pack_samples (vehicle_id, ts, seq, pack_voltage_v, pack_current_a,
            soc_pct, insulation_kohm, cell_voltages, cell_temps)
            VALUES ('TS-INS', $1, $2, 650, 0, 50, $3, '{}', '{}')""",
            [(first + timedelta(minutes=m), k, v) for k, (m, v) in enumerate(readings)],
        )
        await conn.execute("CALL refresh_continuous_aggregate('pack_samples_1m', NULL, NULL)")
        # The hourly aggregate as its policy leaves it: behind, here by the 09:00 hour.
        await conn.execute(
            "CALL refresh_continuous_aggregate('pack_samples_1h', NULL, '2026-05-06 09:00+00')"
        )
        assert await conn.fetchval(
            "SELECT count(*) FROM pack_samples_1h WHERE vehicle_id = 'TS-INS' "
            "AND bucket = '2026-05-06 09:00+00'"
        ) == 0  # fmt: skip
    finally:
        await conn.close()
    conn = await asyncpg.connect(migrated, statement_cache_size=0)
    try:
        got = await insulation_history(
            _OneConnection(conn), {"TS-INS": first.timestamp(), "TS-NONE": first.timestamp()},
            stopping=lambda: True,
        )  # fmt: skip
    finally:
        await conn.close()
    assert list(got) == ["TS-INS"]
    hours, kohm = got["TS-INS"]
    h9 = first.replace(minute=0).timestamp() // 3600
    stored = sorted(zip(hours.tolist(), kohm.tolist(), strict=True))
    assert stored == [(h9 - 23, 6000.0), (h9 - 20, 5500.0), (h9 - 1, 4000.0), (h9, 2500.0)]
