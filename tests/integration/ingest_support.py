"""Shared steps of the ingest tests: a prepared database, producing, waiting."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from schemas.db import migrate
from services.core import dbadmin
from services.core.kafka import open_producer
from services.core.settings import PROJECT_ROOT, CoreSettings
from services.ingest.app import ingest_service
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings

DESIGN = "NMC-R3"  # 176 cells, 44 sensors: schemas.synthetic's defaults


async def prepare_database(
    dsn: str, vehicles: Iterable[str], cells: int = 176, sensors: int = 44
) -> None:
    """Migrate, seed the demo registry, register ``vehicles`` with packs of that shape."""
    await asyncio.to_thread(migrate.upgrade, dsn)
    await dbadmin.seed(dsn, "demo", buses=3)
    conn = await asyncpg.connect(dsn)
    design = DESIGN
    try:
        if (cells, sensors) != (176, 44):
            design = f"TEST-{cells}S-{sensors}T"
            await conn.execute(
                """INSERT INTO pack_designs (design_id, revision, chemistry, cell_supplier,
                cell_model, cells_series, cells_parallel, cell_nominal_ah, nominal_ah,
                nominal_v, cooling, temp_sensors, sensor_cells)
                VALUES ($1, 'T', 'LFP', 'test', 'test', $2, 1, 100, 100, $3, 'air', $4, '[]')""",
                design, cells, cells * 3.2, sensors,
            )  # fmt: skip
        for vid in vehicles:
            await conn.execute(
                "INSERT INTO vehicles (vehicle_id, depot_id, model) VALUES ($1, 'CHN-MDV', 't')",
                vid,
            )
            await conn.execute(
                "INSERT INTO packs (pack_id, design_id, vehicle_id) VALUES ($1, $2, $3)",
                f"PK-{vid}",
                design,
                vid,
            )
    finally:
        await conn.close()


async def produce(
    bootstrap: str,
    topic: str,
    items: Iterable[tuple[bytes, bytes]],
    timestamps_ms: Iterable[int] | None = None,
) -> int:
    """Send (key, value) pairs and wait until the broker acknowledged all of them.

    Records carry ``timestamps_ms`` when given (a live stream's, one per item),
    else the time they are sent."""
    n = 0
    stamps = iter(timestamps_ms) if timestamps_ms is not None else None
    async with open_producer(bootstrap, linger_ms=20) as producer:
        pending = []
        for key, value in items:
            ts = next(stamps) if stamps is not None else None
            pending.append(await producer.send(topic, key=key, value=value, timestamp_ms=ts))
            n += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return n


async def count(dsn: str, sql: str = "SELECT count(*) FROM pack_samples") -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def wait_for_rows(dsn: str, expected: int, limit_s: float = 60.0) -> int:
    """Poll until ``pack_samples`` holds ``expected`` rows (or time runs out); return count."""
    deadline = time.monotonic() + limit_s
    got = await count(dsn)
    while got < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        got = await count(dsn)
    return got


def settings_for(
    bootstrap: str, dsn: str, topic: str, group: str, dlq: str, **ingest: object
) -> tuple[CoreSettings, IngestSettings]:
    core = CoreSettings(kafka_bootstrap_servers=bootstrap, database_url=dsn)
    values: dict[str, object] = {
        "topic": topic,
        "group_id": group,
        "dlq_topic": dlq,
        "metrics_port": 0,
        "batch_max_ms": 200,
        "retry_max_s": 1.0,
    }
    values.update(ingest)
    return core, IngestSettings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def running_ingest(
    core: CoreSettings, settings: IngestSettings
) -> AsyncIterator[IngestService]:
    """An ingest service running in this event loop for the block; stopped cleanly after."""
    stop = asyncio.Event()
    async with ingest_service(core, settings, stop) as service:
        task = asyncio.create_task(service.run(stop))
        try:
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


def ingest_process(
    bootstrap: str, dsn: str, topic: str, group: str, dlq: str, log: Path, **extra: str
) -> subprocess.Popen[bytes]:
    """``packwatch ingest`` as its own process (for kill and pause tests)."""
    env = dict(os.environ)
    env.update(
        PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        DATABASE_URL=dsn,
        PACKWATCH_INGEST_TOPIC=topic,
        PACKWATCH_INGEST_GROUP_ID=group,
        PACKWATCH_INGEST_DLQ_TOPIC=dlq,
        PACKWATCH_INGEST_METRICS_PORT="-1",
        PACKWATCH_INGEST_BATCH_MAX_MS="200",
        PACKWATCH_INGEST_RETRY_MAX_S="1",
        PACKWATCH_LOG_JSON="true",
    )
    env.update(extra)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
