"""Benchmark: sustained ingest rate, the COPY ceiling, latency at 5,000 samples/s, peak RSS.

    make bench-ingest            (or: python -m load_tests.bench_ingest)

1. Fills a fresh topic with PackSamples of a 192-cell, 48-sensor pack.
2. Ceiling, same run: the same rows copied straight into ``pack_samples`` of a
   fresh database from memory over one connection (no Kafka, no decoding):
   asyncpg's records COPY and ingestion's own columnar binary encoder; the
   faster is the ceiling (one Python connection: the ceiling the project's
   architecture brief names; the better of two passes). Beside it, the encoder
   over as many connections at once as the service has workers, and the ratio
   to that.
3. Sustained rate: ``packwatch ingest --workers N`` (its own processes; N from
   BENCH_INGEST_WORKERS, default one per core) drains the topic into another fresh
   database; rows/s from its first committed row to its last (polled from the
   service's bookkeeping rows, then checked against the table once); peak RSS,
   summed over the command and its workers.
4. Latency: samples stamped with the current time, offered at a fixed 5,000/s
   for 20 s; latency = commit time of the row's transaction
   (``pg_xact_commit_timestamp(xmin)``, the local stack keeps it) minus the
   vehicle timestamp, p50/p99 after a 3 s warm-up. On a server without
   ``track_commit_timestamp`` it falls back to ``ingested_at`` (row written) and
   says so.
Broker, database and service share this machine's cores. Figures, never a verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import psutil
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from load_tests.common import ensure_stack, fresh_database, report
from schemas.messages import decode_pack_sample
from schemas.pack_batch import SampleColumns, columns_of
from schemas.synthetic import payloads
from services.core.kafka import open_producer
from services.core.settings import PROJECT_ROOT, CoreSettings
from services.ingest.rows import COLUMNS, as_stored, to_record
from services.ingest.writer import copy_rows

CELLS, SENSORS = 192, 48
# Rows of the sustained run and of each COPY pass. The table outgrows the local
# server's shared_buffers (256 MB) after ~100,000 rows and COPY slows by ~25 %
# from there, as it stays for a fleet's table: 450,000 rows (~1.1 GB) measure
# mostly that regime, and give the service a ~12 s window instead of ~4 s.
N_SAMPLES = int(os.environ.get("BENCH_INGEST_SAMPLES", "450000"))
N_VEHICLES = 500
LATENCY_RATE = 5000
# `packwatch ingest --workers N`: consumer processes in the group on this host,
# by default one per core (decoding is CPU work; one process uses one core).
WORKERS = int(os.environ.get("BENCH_INGEST_WORKERS", str(os.cpu_count() or 1)))
LATENCY_SECONDS = 20


async def _register(dsn: str, vehicles: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO depots (depot_id, name, city) VALUES ('BENCH', 'bench', 'bench');
            INSERT INTO pack_designs (design_id, revision, chemistry, cell_supplier, cell_model,
              cells_series, cells_parallel, cell_nominal_ah, nominal_ah, nominal_v, cooling,
              temp_sensors, sensor_cells)
            VALUES ('BENCH-192S', 'B', 'LFP', 'bench', 'bench', 192, 1, 280, 280, 614,
              'liquid', 48, '[]')"""
        )
        await conn.executemany(
            "INSERT INTO vehicles (vehicle_id, depot_id, model) VALUES ($1, 'BENCH', 'b')",
            [(v,) for v in vehicles],
        )
        await conn.executemany(
            "INSERT INTO packs (pack_id, design_id, vehicle_id) VALUES ($1, 'BENCH-192S', $2)",
            [(f"PK-{v}", v) for v in vehicles],
        )
    finally:
        await conn.close()


async def _topic(bootstrap: str, partitions: int = 12) -> str:
    name = f"bench.pack.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _drop_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    async with open_producer(bootstrap, linger_ms=20) as producer:
        pending = []
        for key, value in items:
            pending.append(await producer.send(topic, key=key, value=value))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)


@dataclass
class Ceiling:
    """COPY from memory into a fresh ``pack_samples``, rows/s."""

    records: float  # asyncpg's records COPY, one connection
    binary_one: float  # ingestion's columnar binary encoder, one connection (better of two passes)
    binary_parallel: float  # the same, WORKERS connections at once (one pass; = binary_one for one)
    streams: int  # connections of ``binary_parallel``

    @property
    def one_connection(self) -> float:
        """The ceiling: the faster COPY over one connection."""
        return max(self.records, self.binary_one)


async def copy_ceiling(dsn: str, values: list[bytes], streams: int) -> Ceiling:
    """Rows/s of the same rows COPied from memory: asyncpg's records COPY, and the
    columnar binary encoder ingestion uses, over one connection and over
    ``streams`` connections at once.

    Both start from rows already decoded and in memory (records for asyncpg,
    columns of 5,000 rows for the encoder), so only encoding and COPY are timed.
    One connection alternates between encoding (client) and COPY (server) and
    keeps about one core busy; ``streams`` connections overlap them as the
    service's worker processes do. Each pass starts on an empty table after a
    CHECKPOINT, so none pays for the previous pass's dirty pages.
    """
    samples = [decode_pack_sample(v) for v in values]
    records = [to_record(s) for s in samples]
    chunks = [
        as_stored(columns_of(samples[i : i + 5000], range(i, min(i + 5000, len(samples)))))
        for i in range(0, len(samples), 5000)
    ]
    del samples
    conns = [await asyncpg.connect(dsn) for _ in range(max(1, streams))]
    conn = conns[0]

    async def timed(*passes: Awaitable[None]) -> float:
        await conn.execute("TRUNCATE pack_samples")
        await conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        await asyncio.gather(*passes)
        return len(records) / (time.perf_counter() - t0)

    async def binary(c: asyncpg.Connection, todo: list[SampleColumns]) -> None:
        while todo:
            await copy_rows(c, "pack_samples", [todo.pop()])

    async def asyncpg_records() -> None:
        for i in range(0, len(records), 5000):
            await conn.copy_records_to_table(
                "pack_samples", records=records[i : i + 5000], columns=COLUMNS
            )

    try:
        # One connection twice, first and last: a single pass varied by a third
        # from run to run (the disk still writing the topic just produced, the
        # host's neighbours); a ceiling is the better of the two.
        one = await timed(binary(conn, chunks[::-1]))
        todo = chunks[::-1]
        parallel = await timed(*(binary(c, todo) for c in conns)) if len(conns) > 1 else one
        by_records = await timed(asyncpg_records())
        one = max(one, await timed(binary(conn, chunks[::-1])))
        await conn.execute("TRUNCATE pack_samples")
        await conn.execute("CHECKPOINT")
        return Ceiling(by_records, one, parallel, len(conns))
    finally:
        for c in conns:
            await c.close()


def _ingest(core: CoreSettings, dsn: str, topic: str, group: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=core.bootstrap_servers,
        DATABASE_URL=dsn,
        PACKWATCH_INGEST_TOPIC=topic,
        PACKWATCH_INGEST_GROUP_ID=group,
        PACKWATCH_INGEST_METRICS_PORT="-1",
        PACKWATCH_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "ingest", "--workers", str(WORKERS)],
        env=env,
        cwd=PROJECT_ROOT,
    )


class _Command:
    """The ingest command and its worker processes, for RSS and CPU readings.

    Finding the workers scans every process on the machine (~3 ms of CPU); ten
    readings a second, each scanning twice, took ~0.06 of a core from the
    service being measured. The workers are looked up again at most once a
    second; reading known processes costs ~0.1 ms.
    """

    def __init__(self, pid: int, rescan_s: float = 1.0) -> None:
        self.root = psutil.Process(pid)
        self._rescan_s = rescan_s
        self._procs: list[psutil.Process] = [self.root]
        self._scanned = -rescan_s
        self._cpu: dict[int, float] = {}  # per pid: a worker that has exited still counts

    def _processes(self) -> list[psutil.Process]:
        now = time.monotonic()
        if now - self._scanned >= self._rescan_s:
            with contextlib.suppress(psutil.NoSuchProcess):
                self._procs = [self.root, *self.root.children(recursive=True)]
            self._scanned = now
        return self._procs

    def read(self) -> tuple[int, float]:
        """(resident bytes summed over the command and its workers, CPU seconds they
        used so far)."""
        rss = 0
        for p in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += p.memory_info().rss
                t = p.cpu_times()
                self._cpu[p.pid] = t.user + t.system
        return rss, sum(self._cpu.values())


async def _stored(conn: asyncpg.Connection) -> int:
    """Rows ingestion has committed so far, from its bookkeeping rows (each commits in
    the transaction of its batch's rows). Cheap to poll: ``count(*)`` over
    ``pack_samples`` ten times a second scanned the growing table with parallel
    workers, taking CPU from the service being measured."""
    return int(await conn.fetchval("SELECT coalesce(sum(rows_inserted), 0) FROM ingest_batches"))


async def _count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pack_samples"))


async def sustained(core: CoreSettings, dsn: str, topic: str, n: int) -> tuple[float, float, float]:
    """Rows/s from the first row stored to the last, peak RSS (MB), and the
    ingest processes' CPU time per sample (µs) over that span. Starts after a
    CHECKPOINT (as each COPY pass does); prints the rate every 2 s."""
    conn = await asyncpg.connect(dsn)
    await conn.execute("CHECKPOINT")
    proc = _ingest(core, dsn, topic, f"bench-{uuid.uuid4().hex[:6]}")
    command = _Command(proc.pid)
    peak = 0
    cpu_first = 0.0
    try:
        first_at: float | None = None
        first_n = 0
        shown = (0.0, 0)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            rss, used = command.read()
            peak = max(peak, rss)
            got = await _stored(conn)
            if got and first_at is None:
                first_at, first_n, cpu_first = time.perf_counter(), got, used
                shown = (first_at, got)
            elif first_at is not None and time.perf_counter() - shown[0] >= 2:
                now = time.perf_counter()
                print(f"    {got:,} rows stored, {(got - shown[1]) / (now - shown[0]):,.0f} rows/s "
                      "over the last 2 s", flush=True)  # fmt: skip
                shown = (now, got)
            if got >= n:
                break
            await asyncio.sleep(0.1)
        assert first_at is not None, "ingest stored nothing"
        assert got >= n, f"ingest stored {got} of {n} rows in 900 s"
        table = await _count(conn)
        assert table == got, f"bookkeeping says {got} rows, pack_samples holds {table}"
        rate = (got - first_n) / (time.perf_counter() - first_at)
        cpu_us = (used - cpu_first) / max(1, got - first_n) * 1e6
    finally:
        await conn.close()
        proc.terminate()
        proc.wait(60)
    print(f"  sustained: {got} rows, peak RSS {peak >> 20} MB, {cpu_us:.0f} µs CPU a sample",
          flush=True)  # fmt: skip
    return rate, peak / 2**20, cpu_us


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    samples: int
    measured_to: str  # "row committed", or the fallback


async def latency(core: CoreSettings, dsn: str, topic: str) -> Latency:
    vehicles = [f"L-{i:05d}" for i in range(LATENCY_RATE)]
    await _register_more(dsn, vehicles)
    proc = _ingest(core, dsn, topic, f"bench-lat-{uuid.uuid4().hex[:6]}")
    await asyncio.sleep(5)  # joined the group, idle on an empty topic
    chunk = LATENCY_RATE // 10
    started = datetime.now(UTC)
    try:
        async with open_producer(core.bootstrap_servers, linger_ms=5) as producer:
            t0 = time.perf_counter()
            for tick in range(LATENCY_SECONDS * 10):
                second = started + timedelta(seconds=tick // 10)
                part = vehicles[(tick % 10) * chunk : (tick % 10 + 1) * chunk]
                now = datetime.now(UTC)
                for key, value, _ in payloads(
                    part, now, 1, cells=CELLS, sensors=SENSORS, variants=8
                ):
                    await producer.send(topic, key=key, value=value)
                del second
                await asyncio.sleep(max(0.0, t0 + (tick + 1) * 0.1 - time.perf_counter()))
            await producer.flush()
        conn = await asyncpg.connect(dsn)
        try:
            expected = LATENCY_RATE * LATENCY_SECONDS
            for _ in range(600):
                if await _stored(conn) >= expected:
                    break
                await asyncio.sleep(0.1)
            # The commit time of each row's transaction where the server keeps
            # it (the local stack does); else the time the row was written,
            # which is earlier by the rollup merge and the commit.
            to_commit = await conn.fetchval("SHOW track_commit_timestamp") == "on"
            stamp = "pg_xact_commit_timestamp(xmin)" if to_commit else "ingested_at"
            row = await conn.fetchrow(
                f"""SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lat) AS p50,
                          percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) AS p99,
                          count(*) AS n
                   FROM (SELECT extract(epoch FROM {stamp} - ts) * 1000 AS lat
                         FROM pack_samples WHERE ts >= $1) AS l""",
                started + timedelta(seconds=3),
            )
        finally:
            await conn.close()
    finally:
        proc.terminate()
        proc.wait(60)
    measured_to = "row committed" if to_commit else "row written (track_commit_timestamp off)"
    return Latency(float(row["p50"]), float(row["p99"]), int(row["n"]), measured_to)


async def _register_more(dsn: str, vehicles: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO vehicles (vehicle_id, depot_id, model) VALUES ($1, 'BENCH', 'b')",
            [(v,) for v in vehicles],
        )
        await conn.executemany(
            "INSERT INTO packs (pack_id, design_id, vehicle_id) VALUES ($1, 'BENCH-192S', $2)",
            [(f"PK-{v}", v) for v in vehicles],
        )
    finally:
        await conn.close()


async def main() -> None:
    core = CoreSettings()
    await ensure_stack(core)
    vehicles = [f"B-{i:04d}" for i in range(N_VEHICLES)]
    seconds = N_SAMPLES // N_VEHICLES
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds + 60)
    print(f"generating {N_VEHICLES * seconds} samples ({CELLS} cells, {SENSORS} sensors)…")
    items = [(k, v) for k, v, _ in payloads(vehicles, start, seconds, cells=CELLS, sensors=SENSORS)]
    n = len(items)
    topic = await _topic(core.bootstrap_servers)
    t0 = time.perf_counter()
    await _produce(core.bootstrap_servers, topic, items)
    print(f"produced {n} to {topic} in {time.perf_counter() - t0:.1f}s", flush=True)

    copy_dsn = await fresh_database(core, "bench_copy")
    ceiling = await copy_ceiling(copy_dsn, [v for _, v in items], WORKERS)
    print(
        f"  COPY from memory: asyncpg records {ceiling.records:,.0f} rows/s, binary encoder "
        f"{ceiling.binary_one:,.0f} rows/s on one connection, "
        f"{ceiling.binary_parallel:,.0f} on {ceiling.streams}",
        flush=True,
    )
    del items

    dsn = await fresh_database(core, "bench_ingest")
    await _register(dsn, vehicles)
    rate, peak_mb, cpu_us = await sustained(core, dsn, topic, n)
    print(f"  ingest sustained: {rate:,.0f} rows/s", flush=True)

    lat_dsn = await fresh_database(core, "bench_ingest_latency")
    await _register(lat_dsn, [])
    lat_topic = await _topic(core.bootstrap_servers)
    lat = await latency(core, lat_dsn, lat_topic)
    print(f"  latency to {lat.measured_to}: p50 {lat.p50_ms:.0f} ms, p99 {lat.p99_ms:.0f} ms",
          flush=True)  # fmt: skip
    await _drop_topics(core.bootstrap_servers, [topic, lat_topic])

    report(
        "ingest benchmark",
        {
            "samples": n,
            "cells_per_sample": CELLS,
            "sensors_per_sample": SENSORS,
            "samples_per_s": round(rate),
            "cell_values_per_s": round(rate * (CELLS + SENSORS)),
            "copy_ceiling_per_s": round(ceiling.one_connection),
            "copy_ceiling_is": "the faster COPY from memory over one connection",
            "copy_asyncpg_records_per_s": round(ceiling.records),
            "copy_binary_one_connection_per_s": round(ceiling.binary_one),
            "ratio_to_copy_ceiling": round(rate / ceiling.one_connection, 3),
            "copy_binary_parallel_per_s": round(ceiling.binary_parallel),
            "copy_parallel_connections": ceiling.streams,
            "ratio_to_parallel_copy": round(rate / ceiling.binary_parallel, 3),
            "offered_rate_per_s": LATENCY_RATE,
            "latency_samples": lat.samples,
            "latency_measured_to": lat.measured_to,
            "p50_latency_ms_at_5000": round(lat.p50_ms, 1),
            "p99_latency_ms_at_5000": round(lat.p99_ms, 1),
            "peak_rss_mb": round(peak_mb, 1),
            "peak_rss_is": "sum over the ingest command and its worker processes",
            "ingest_workers": WORKERS,
            "ingest_cpu_us_per_sample": round(cpu_us, 1),
            "cpu_cores": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
