"""The binary COPY encoder writes exactly what asyncpg's own COPY writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from schemas.db import migrate
from schemas.db.tables import pack_samples
from schemas.messages import decode_pack_sample
from schemas.synthetic import payloads
from services.ingest.pgcopy import BinaryCopyEncoder, as_source
from services.ingest.rows import COLUMNS, to_record

pytestmark = pytest.mark.integration


async def test_binary_copy_equals_asyncpg_copy_for_every_column(database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    start = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    records = [
        to_record(decode_pack_sample(v))
        for _, v, _ in payloads(["A", "B", "C"], start, 40, cells=192, sensors=48)
    ]
    # The edge cases: NULLs, empty and large fault-code arrays, negative values.
    fault = COLUMNS.index("fault_codes")
    current = COLUMNS.index("pack_current_a")
    records[0] = records[0][:fault] + ([],) + records[0][fault + 1 :]
    records[1] = records[1][:fault] + ([1, 2**40, 0],) + records[1][fault + 1 :]
    records[2] = tuple(
        None if i == COLUMNS.index("soh_pct") else v for i, v in enumerate(records[2])
    )
    records[3] = records[3][:current] + (-1234.5,) + records[3][current + 1 :]
    conn = await asyncpg.connect(database)
    try:
        for name in ("a", "b"):
            await conn.execute(f"CREATE TEMP TABLE {name} (LIKE pack_samples INCLUDING DEFAULTS)")
        enc = BinaryCopyEncoder(pack_samples, COLUMNS)
        await conn.copy_to_table(
            "a", source=as_source(enc.encode(records)), columns=COLUMNS, format="binary"
        )
        await conn.copy_records_to_table("b", records=records, columns=COLUMNS)
        cols = ", ".join(COLUMNS)
        a = await conn.fetch(f"SELECT {cols} FROM a ORDER BY vehicle_id, ts")
        b = await conn.fetch(f"SELECT {cols} FROM b ORDER BY vehicle_id, ts")
        assert len(a) == len(records) == 120
        assert [tuple(r) for r in a] == [tuple(r) for r in b]
        assert a[0]["ts"] == start  # microseconds survive
        assert {tuple(r["fault_codes"] or ()) for r in a} >= {(), (1, 2**40, 0)}
    finally:
        await conn.close()


def test_a_column_of_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="no binary COPY encoder"):
        BinaryCopyEncoder(pack_samples.metadata.tables["pack_designs"], ["sensor_cells"])
