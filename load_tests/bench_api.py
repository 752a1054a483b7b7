"""Benchmark of the REST API: one-day, one-vehicle, 1-minute telemetry at concurrency 16.

    .venv/bin/python -m load_tests.bench_api [--load-only] [--requests N] [--concurrency C]

The data: 7 days of 1 Hz samples for 10 buses (about 6 million rows with full
cell arrays), generated server-side by ``INSERT … SELECT generate_series`` into
a dedicated database (``packwatch_bench``) on the configured server, with the
rollups built from it in bulk. The load runs once; a later run finds the
marker left on ``pack_samples`` and reuses the data. ``DATABASE_URL`` points at
another server; by default the local embedded server is started if needed.

The API runs as a real uvicorn server on a loopback port in a child process,
so the load generator and the server do not share an event loop. Figures go
to stdout; the last line is one JSON object with at least ``p50_ms``,
``p99_ms``, ``req_per_s`` and ``rows_in_db``, the uvicorn workers used
(``BENCH_API_WORKERS``, default 1), the load average before the run and the
CPU milliseconds per request of the API, PostgreSQL and the load generator
(on shared cores, steadier to compare than req/s). It never passes or fails
on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import psutil

from schemas.db import migrate
from schemas.db.rollups import HOUR, MINUTE, ORIGIN, STATE_COLUMNS, state_table
from schemas.fleet import DESIGNS, demo_buses
from services.core import dbadmin
from services.core.settings import CoreSettings

BENCH_DB = "packwatch_bench"
BUSES = 10
DAYS = 7
MARKER = "packwatch-bench-v1"

# One row per bus-second. Everything derives from g (seconds since the start)
# with cheap arithmetic so the server generates rows as fast as it can write:
# charging from midnight to 05:00, driving otherwise.
GENERATE_SQL = """
INSERT INTO pack_samples (vehicle_id, ts, seq, received_at, pack_id, pack_voltage_v,
    pack_current_a, soc_pct, soh_pct, cell_voltage_min_v, cell_voltage_max_v,
    cell_voltage_mean_v, cell_voltage_min_idx, cell_voltage_max_idx, cell_temp_min_c,
    cell_temp_max_c, cell_temp_mean_c, cell_temp_min_idx, cell_temp_max_idx, coolant_inlet_c,
    coolant_outlet_c, ambient_c, insulation_kohm, contactor_state, hvil_state, charging_state,
    speed_kmh, odometer_km, latitude_deg, longitude_deg, cell_voltages, cell_temps)
SELECT $1, ts, g, ts, $2, cv * $3, cur, soc, 96.5, cv, cv, cv, 0, 0, t, t, t, 0, 0,
    24 + 2 * sin(g / 900.0), 27 + 2 * sin(g / 900.0), 30, 5000, 1, 1, chg, spd,
    1000 + g / 120.0, 13.08, 80.27,
    array_fill(cv, ARRAY[$3::int]), array_fill(t, ARRAY[$4::int])
FROM (
    SELECT g, $5::timestamptz + g * INTERVAL '1 second' AS ts,
        (g % 86400 < 18000) AS charging,
        CASE WHEN g % 86400 < 18000 THEN 150 ELSE -120 + 80 * sin(g / 60.0) END::real AS cur,
        CASE WHEN g % 86400 < 18000 THEN 1 ELSE 0 END::smallint AS chg,
        CASE WHEN g % 86400 < 18000 THEN 0 ELSE greatest(0, 30 + 25 * sin(g / 300.0)) END::real
            AS spd,
        (50 + 40 * cos(2 * pi() * (g % 86400) / 86400.0))::real AS soc,
        (3.25 + 0.002 * cos(2 * pi() * (g % 86400) / 86400.0))::real AS cv,
        (28 + 6 * sin(g / 1800.0))::real AS t
    FROM generate_series(0, $6::int - 1) AS g
) AS s"""


def server_dsn() -> str:
    """DSN of the server's maintenance database; the local server is started when it is used."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url.rpartition("/")[0] + "/postgres"
    from services.stack import postgres

    s = CoreSettings()
    cfg = postgres.PostgresConfig(state_dir=s.state_dir, port=s.pg_port)
    postgres.start(cfg)
    return cfg.dsn("postgres")


def bench_dsn(server: str) -> str:
    return server.rpartition("/")[0] + "/" + BENCH_DB


async def _marker(dsn: str) -> str | None:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        value = await conn.fetchval("SELECT obj_description('pack_samples'::regclass, 'pg_class')")
        return str(value) if value else None
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


def _rollup_sql(rollup: str, width: str) -> str:
    # One aggregation pass per vehicle straight into the rollup's state table:
    # the same state expressions ingestion merges, computed over all its rows.
    cols = ", ".join(c for c, _ in STATE_COLUMNS)
    exprs = ", ".join(e for _, e in STATE_COLUMNS)
    return f"""INSERT INTO {state_table(rollup)} (vehicle_id, bucket, {cols})
SELECT vehicle_id, date_bin(INTERVAL '{width}', ts, {ORIGIN}), {exprs}
FROM pack_samples WHERE vehicle_id = $1 GROUP BY 1, 2"""


ROLLUP_SQL = {MINUTE: _rollup_sql(MINUTE, "1 minute"), HOUR: _rollup_sql(HOUR, "1 hour")}


async def _load_bus(dsn: str, vehicle: str, pack: str, design: str, start: datetime) -> None:
    """The bus's rows (unless already there) and its rollups, recomputed."""
    d = DESIGNS[design]
    conn = await asyncpg.connect(dsn)
    try:
        # The rows are reproducible from this script; a crash mid-load means reloading.
        await conn.execute("SET synchronous_commit = off")
        async with conn.transaction():
            present = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pack_samples WHERE vehicle_id = $1)", vehicle
            )
            if not present:
                await conn.execute(
                    GENERATE_SQL, vehicle, pack, d.cells_series, d.temp_sensors, start, DAYS * 86400
                )
            for rollup, sql in ROLLUP_SQL.items():
                await conn.execute(
                    f"DELETE FROM {state_table(rollup)} WHERE vehicle_id = $1", vehicle
                )
                await conn.execute(sql, vehicle)
    finally:
        await conn.close()


async def _data_start(dsn: str) -> datetime:
    """Where the data begins: kept from an interrupted load, else 7 days before now."""
    conn = await asyncpg.connect(dsn)
    try:
        first = await conn.fetchval(
            "SELECT min(ts) FROM pack_samples WHERE vehicle_id = $1", demo_buses(1)[0].vehicle_id
        )
    finally:
        await conn.close()
    if first is not None:
        return first  # type: ignore[no-any-return]
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=DAYS)


async def ensure_data(server: str) -> tuple[str, datetime]:
    """The bench database with its data (loaded now if absent); returns its DSN and data start."""
    dsn = bench_dsn(server)
    marker = await _marker(dsn)
    if marker and marker.startswith(MARKER):
        return dsn, datetime.fromisoformat(marker.split(" ", 1)[1])
    conn = await asyncpg.connect(server)
    try:
        # An interrupted load resumes: buses already written are kept.
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DB):
            await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    await asyncio.to_thread(migrate.upgrade, dsn)
    await dbadmin.seed(dsn, "demo", buses=BUSES)
    start = await _data_start(dsn)
    t0 = time.perf_counter()
    buses = demo_buses(BUSES)
    # Two loaders at a time: one per core of the small machines this runs on.
    gate = asyncio.Semaphore(2)

    async def one(i: int) -> None:
        b = buses[i]
        async with gate:
            await _load_bus(dsn, b.vehicle_id, b.pack_id, b.design_id, start)
        print(f"bench: loaded {b.vehicle_id} ({time.perf_counter() - t0:.0f} s)", flush=True)

    async with asyncio.TaskGroup() as tg:
        for i in range(BUSES):
            tg.create_task(one(i))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE pack_samples")
        await conn.execute(f"VACUUM ANALYZE {MINUTE}_state")
        await conn.execute(f"VACUUM ANALYZE {HOUR}_state")
        await conn.execute(f"COMMENT ON TABLE pack_samples IS '{MARKER} {start.isoformat()}'")
    finally:
        await conn.close()
    print(f"bench: data loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    return dsn, start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workers() -> int:
    """uvicorn worker processes serving the API: ``BENCH_API_WORKERS``, default 1."""
    return int(os.environ.get("BENCH_API_WORKERS", "1"))


def start_server(dsn: str, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the API on a loopback port, in its own process (own core, own loop)."""
    env = {**os.environ, "DATABASE_URL": dsn, "PACKWATCH_LOG_LEVEL": "WARNING"}
    argv = [sys.executable, "-m", "uvicorn", "services.api.app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    argv += ["--workers", str(workers())]
    return subprocess.Popen([*argv, "--no-access-log"], env=env)  # noqa: S603


async def _wait_ready(session: aiohttp.ClientSession, base: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the API server did not start")


async def _token(dsn: str) -> tuple[str, str]:
    from services.api import tokens

    conn = await asyncpg.connect(dsn)
    try:
        issued = await tokens.create(conn, "operator", description="bench_api")
        return issued.token_id, issued.token
    finally:
        await conn.close()


async def _revoke(dsn: str, token_id: str) -> int:
    from services.api import tokens

    conn = await asyncpg.connect(dsn)
    try:
        await tokens.revoke(conn, token_id)
        return int(await conn.fetchval("SELECT count(*) FROM pack_samples"))
    finally:
        await conn.close()


async def run_load(
    base: str, token: str, start: datetime, requests: int, concurrency: int, seed: int = 1
) -> tuple[list[float], float, int]:
    """``requests`` one-day 1-minute queries over ``concurrency`` connections.

    Returns (latencies in seconds, wall seconds, errors). Each query asks for a
    random bus and a random minute-aligned day inside the loaded week.
    """
    rng = random.Random(seed)
    buses = [b.vehicle_id for b in demo_buses(BUSES)]
    span_min = (DAYS - 1) * 1440
    jobs = []
    for _ in range(requests):
        t0 = start + timedelta(minutes=rng.randrange(span_min))
        jobs.append((rng.choice(buses), t0.isoformat(), (t0 + timedelta(days=1)).isoformat()))
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        queue = iter(jobs)

        async def worker() -> None:
            nonlocal errors
            for vehicle, lo, hi in queue:
                params = {"start": lo, "end": hi, "interval": "1m"}
                t = time.perf_counter()
                async with session.get(
                    f"{base}/v1/vehicles/{vehicle}/telemetry", params=params
                ) as r:
                    body = await r.read()
                    ok = r.status == 200
                latencies.append(time.perf_counter() - t)
                # Parsing every 150 kB body would load the cores the server runs on:
                # every 25th response is checked in full, after its latency is taken.
                if ok and len(latencies) % 25 == 0:
                    ok = len(json.loads(body)["series"]["bucket"]) == 1440
                errors += 0 if ok else 1

        wall = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(concurrency):
                tg.create_task(worker())
        wall = time.perf_counter() - wall
    return latencies, wall, errors


async def _postmaster(dsn: str) -> psutil.Process | None:
    """The database server's main process when it runs on this machine, else None."""
    conn = await asyncpg.connect(dsn)
    try:
        # The backend serving this connection is a child of the server's main process.
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        with contextlib.suppress(psutil.Error):
            parent = psutil.Process(backend).parent()
            if parent is not None and "postgres" in parent.name():
                return parent
        return None
    finally:
        await conn.close()


def _cpu_s(root: psutil.Process | None) -> float:
    """CPU seconds used so far by ``root`` and the children it has now (0 without a root)."""
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        for p in [root, *root.children(recursive=True)] if root else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
    return total


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def bench(dsn: str, start: datetime, requests: int, concurrency: int) -> dict[str, object]:
    # The machine's load before this run starts anything: other work sharing the cores.
    load_before = os.getloadavg()[0]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    token_id, token = await _token(dsn)
    server = start_server(dsn, port)
    try:
        async with aiohttp.ClientSession() as s:
            await _wait_ready(s, base)
        await run_load(base, token, start, min(400, requests), concurrency, seed=0)  # warm-up
        # CPU per request of each party on the shared cores: steadier than req/s when
        # other work competes for them. The server's backends are those open now (the
        # warm-up filled the pool) and any it starts during the run.
        api, postgres = psutil.Process(server.pid), await _postmaster(dsn)
        cpu0 = (_cpu_s(api), _cpu_s(postgres), time.process_time())
        latencies, wall, errors = await run_load(base, token, start, requests, concurrency)
        used = (_cpu_s(api), _cpu_s(postgres), time.process_time())
        cpu = [(u - c) * 1000.0 / len(latencies) for u, c in zip(used, cpu0, strict=True)]
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    rows = await _revoke(dsn, token_id)
    return {
        "benchmark": "api_telemetry_1m_one_day",
        "requests": len(latencies),
        "concurrency": concurrency,
        "errors": errors,
        "p50_ms": round(_pct(latencies, 0.50), 2),
        "p90_ms": round(_pct(latencies, 0.90), 2),
        "p99_ms": round(_pct(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000.0, 2),
        "req_per_s": round(len(latencies) / wall, 1),
        "points_per_response": 1440,
        "rows_in_db": rows,
        "cpus": os.cpu_count(),
        "workers": workers(),
        "cpu_ms_per_request_api": round(cpu[0], 3),
        # null when the database runs on another machine
        "cpu_ms_per_request_postgres": round(cpu[1], 3) if postgres is not None else None,
        "cpu_ms_per_request_load_generator": round(cpu[2], 3),
        "load_avg_1m_before": round(load_before, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-only", action="store_true", help="load the data and stop")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    server = server_dsn()
    dsn, start = asyncio.run(ensure_data(server))
    if args.load_only:
        return 0
    result = asyncio.run(bench(dsn, start, args.requests, args.concurrency))
    print(
        f"api 1m/one-day: {result['requests']} requests at concurrency {result['concurrency']}: "
        f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, "
        f"{result['req_per_s']} req/s, {result['errors']} errors, "
        f"{result['rows_in_db']} rows in the database, {result['workers']} API worker(s), "
        f"load average before {result['load_avg_1m_before']} on {result['cpus']} CPUs; "
        f"CPU ms per request: API {result['cpu_ms_per_request_api']}, "
        f"PostgreSQL {result['cpu_ms_per_request_postgres']}, "
        f"load generator {result['cpu_ms_per_request_load_generator']}"
    )
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
