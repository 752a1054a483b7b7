"""Storage per bus-second: raw rows on PostgreSQL, and compressed on TimescaleDB.

    python -m load_tests.measure_storage

Simulated samples (realistic noise and quantisation, both pack designs) are
written to a fresh database on the local PostgreSQL (COPY) and, by INSERT, to
the TimescaleDB compatibility target, whose chunks are then compressed
(segment by vehicle, order by time, as the migration configures). Prints
bytes per bus-second and one JSON line last; ``docs/storage-sizing.md``
explains the projection to fleets.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import asyncpg

from load_tests.common import ensure_stack, fresh_database, report
from schemas.db import migrate
from services.core.settings import PROJECT_ROOT, CoreSettings
from services.ingest.rows import COLUMNS, to_record
from services.simulator import FleetConfig
from services.simulator.samples import simulate_samples
from services.stack import timescale_compat

BUSES = 6
SECONDS = 1800


def _samples() -> list[tuple[object, ...]]:
    config = FleetConfig(buses=BUSES, start=datetime(2026, 6, 1, 6, 0, tzinfo=UTC), seed=4)
    steps = simulate_samples(config, SECONDS)
    return [to_record(s) for s in itertools.chain.from_iterable(steps)]


async def _postgres(core: CoreSettings, records: list[tuple[object, ...]]) -> dict[str, float]:
    dsn = await fresh_database(core, "storage_sizing")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("pack_samples", records=records, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE pack_samples")
        total = await conn.fetchval("SELECT pg_total_relation_size('pack_samples')")
        heap = await conn.fetchval("SELECT pg_relation_size('pack_samples')")
    finally:
        await conn.close()
    return {"pg_bytes_per_row": total / len(records), "pg_heap_bytes_per_row": heap / len(records)}


async def _timescale(core: CoreSettings, records: list[tuple[object, ...]]) -> dict[str, float]:
    state = core.state_dir / "storage-sizing"
    port = core.timescale_compat_port + 10
    await asyncio.to_thread(timescale_compat.start, state, port, PROJECT_ROOT)
    dsn = timescale_compat.dsn(port)
    try:
        await asyncio.to_thread(migrate.upgrade, dsn)
        conn = await asyncpg.connect(dsn, **timescale_compat.connect_kwargs())
        try:
            await conn.execute("TRUNCATE pack_samples")
            cols = ", ".join(COLUMNS)
            marks = ", ".join(f"${i + 1}" for i in range(len(COLUMNS)))
            await conn.executemany(f"INSERT INTO pack_samples ({cols}) VALUES ({marks})", records)
            before = await conn.fetchval(
                "SELECT sum(total_bytes) FROM chunks_detailed_size('pack_samples')"
            )
            await conn.execute(
                "SELECT compress_chunk(c, if_not_compressed => true) "
                "FROM show_chunks('pack_samples') c"
            )
            after = await conn.fetchval(
                "SELECT sum(after_compression_total_bytes) "
                "FROM hypertable_compression_stats('pack_samples')"
            )
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(timescale_compat.stop, state)
    return {
        "ts_uncompressed_bytes_per_row": float(before) / len(records),
        "ts_compressed_bytes_per_row": float(after) / len(records),
    }


async def main() -> None:
    core = CoreSettings()
    await ensure_stack(core)
    records = _samples()
    figures: dict[str, float] = {"rows": len(records), "buses": BUSES}
    figures |= await _postgres(core, records)
    figures |= await _timescale(core, records)
    figures["compression_ratio"] = (
        figures["ts_uncompressed_bytes_per_row"] / figures["ts_compressed_bytes_per_row"]
    )
    report("storage per bus-second", {k: round(v, 1) for k, v in figures.items()})


if __name__ == "__main__":
    asyncio.run(main())
