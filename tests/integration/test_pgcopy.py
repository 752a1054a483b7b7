"""The columnar binary COPY encoder writes exactly what asyncpg's own COPY writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest

from schemas.db import migrate
from schemas.db.tables import pack_samples
from schemas.messages import PackSample, decode_pack_sample
from schemas.pack_batch import columns_of
from schemas.synthetic import payloads
from services.ingest.pgcopy import BinaryCopyEncoder, as_source
from services.ingest.rows import COLUMNS, as_stored, to_record

pytestmark = pytest.mark.integration

START = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)


def _samples(vehicles: list[str]) -> list[PackSample]:
    return [
        decode_pack_sample(v) for _, v, _ in payloads(vehicles, START, 40, cells=192, sensors=48)
    ]


def _edge_cases(samples: list[PackSample]) -> list[PackSample]:
    """NULLs in some rows only, empty and large fault-code arrays, negative values,
    summaries left out (computed on storing), ids of different lengths."""
    r = msgspec.structs.replace
    samples[0] = r(samples[0], fault_codes=[])
    samples[1] = r(samples[1], fault_codes=[1, 2**32 - 1, 0], pack_id="PK-1")
    samples[2] = r(samples[2], soh_pct=None, received_at=None, contactor_state=None)
    samples[3] = r(samples[3], pack_current_a=-1234.5, latitude_deg=52.5, longitude_deg=13.4)
    samples[4] = r(samples[4], cell_voltage_min_v=None, cell_temp_max_c=None)
    samples[5] = r(samples[5], cell_temp_min_c=None, cell_voltage_min_idx=None)
    return samples


async def _copy_both_ways(conn: asyncpg.Connection, samples: list[PackSample]) -> None:
    for name in ("a", "b"):
        await conn.execute(f"CREATE TEMP TABLE {name} (LIKE pack_samples INCLUDING DEFAULTS)")
    enc = BinaryCopyEncoder(pack_samples, COLUMNS)
    # Two groups in one stream, as a batch of two pack designs or reads makes them.
    half = len(samples) // 2
    groups = [
        as_stored(columns_of(samples[:half], range(half))),
        as_stored(columns_of(samples[half:], range(half, len(samples)))),
    ]
    await conn.copy_to_table(
        "a", source=as_source(enc.encode(groups)), columns=enc.columns, format="binary"
    )
    records = [to_record(s) for s in samples]
    await conn.copy_records_to_table("b", records=records, columns=COLUMNS)


async def _assert_tables_equal(conn: asyncpg.Connection, n: int) -> list[asyncpg.Record]:
    cols = ", ".join(COLUMNS)
    a = await conn.fetch(f"SELECT {cols} FROM a ORDER BY vehicle_id, ts")
    b = await conn.fetch(f"SELECT {cols} FROM b ORDER BY vehicle_id, ts")
    assert len(a) == len(b) == n
    assert [tuple(r) for r in a] == [tuple(r) for r in b]
    return list(a)


async def test_columnar_copy_equals_asyncpg_copy_for_every_column(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    samples = _edge_cases(_samples(["A", "BB", "CCC"]))
    conn = await asyncpg.connect(database)
    try:
        await _copy_both_ways(conn, samples)
        a = await _assert_tables_equal(conn, 120)
        assert a[0]["ts"] == START  # microseconds survive
        assert {tuple(r["fault_codes"] or ()) for r in a} >= {(), (1, 2**32 - 1, 0)}
        assert any(r["soh_pct"] is None for r in a)
        assert all(r["cell_voltage_min_v"] is not None for r in a)  # computed when absent
    finally:
        await conn.close()


async def test_a_batch_of_one_width_is_encoded_without_a_row_loop_and_still_equal(
    database: str,
) -> None:
    # Ids of one length and no fault codes: every column is one numpy field.
    await asyncio.to_thread(migrate.upgrade, database)
    samples = _samples(["B-01", "B-02"])
    conn = await asyncpg.connect(database)
    try:
        await _copy_both_ways(conn, samples)
        await _assert_tables_equal(conn, 80)
    finally:
        await conn.close()


def test_variable_width_columns_go_last() -> None:
    enc = BinaryCopyEncoder(pack_samples, COLUMNS)
    assert sorted(enc.columns) == sorted(COLUMNS)
    assert enc.columns[-3:] == ("vehicle_id", "pack_id", "fault_codes")


def test_a_column_of_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="no binary COPY encoder"):
        BinaryCopyEncoder(pack_samples.metadata.tables["pack_designs"], ["sensor_cells"])
