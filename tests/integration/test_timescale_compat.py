"""TimescaleDB SQL against the compatibility target (TimescaleDB 2.23 in WebAssembly).

The session starts its own target on a free port with a temporary state folder
and stops it at the end. The target takes one connection at a time, so every
test opens and closes its own connection and tests never overlap.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.stack import timescale_compat

pytestmark = pytest.mark.timescale

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def timescale_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """State folder and port of a compatibility target running for this session."""
    state_dir = tmp_path_factory.mktemp("timescale-compat-state")
    port = _free_port()
    timescale_compat.start(state_dir, port, PROJECT_ROOT)
    try:
        yield state_dir, port
    finally:
        timescale_compat.stop(state_dir)


@pytest.fixture(scope="session")
def timescale_port(timescale_target: tuple[Path, int]) -> int:
    return timescale_target[1]


@pytest.fixture
async def conn(timescale_port: int) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(
        timescale_compat.dsn(timescale_port), **timescale_compat.connect_kwargs()
    )
    try:
        yield connection
    finally:
        await connection.close()


async def test_extension_is_timescaledb_2_23(conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    version = await conn.fetchval(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    )
    assert str(version).startswith("2.23")


async def test_hypertable_aggregates_and_policies(conn: asyncpg.Connection) -> None:
    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    await conn.execute(
        """
        CREATE TABLE pack_samples_ts (
            time timestamptz NOT NULL,
            vehicle_id text NOT NULL,
            soc_pct real NOT NULL,
            max_cell_temp_c real NOT NULL
        )
        """
    )
    await conn.execute(
        "SELECT create_hypertable('pack_samples_ts', by_range('time', INTERVAL '1 day'))"
    )

    # INSERT, not COPY: COPY crashes the target.
    end = datetime(2026, 11, 20, tzinfo=UTC)
    rows = [
        (end - timedelta(minutes=10 * i), f"bus-{i % 3}", 40.0 + i % 50, 25.0 + i % 10)
        for i in range(600)
    ]
    await conn.executemany("INSERT INTO pack_samples_ts VALUES ($1, $2, $3, $4)", rows)

    buckets = await conn.fetch(
        """
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, vehicle_id, count(*) AS n
        FROM pack_samples_ts GROUP BY bucket, vehicle_id
        """
    )
    assert sum(r["n"] for r in buckets) == len(rows)
    assert all(r["bucket"].minute == 0 for r in buckets)

    await conn.execute(
        """
        CREATE MATERIALIZED VIEW pack_temp_hourly WITH (timescaledb.continuous) AS
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, vehicle_id,
               max(max_cell_temp_c) AS max_temp_c
        FROM pack_samples_ts GROUP BY bucket, vehicle_id
        WITH NO DATA
        """
    )
    await conn.execute(
        """
        SELECT add_continuous_aggregate_policy('pack_temp_hourly',
            start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour',
            schedule_interval => INTERVAL '15 minutes')
        """
    )
    await conn.execute("CALL refresh_continuous_aggregate('pack_temp_hourly', NULL, NULL)")
    assert await conn.fetchval("SELECT count(*) FROM pack_temp_hourly") == len(buckets)

    await conn.execute(
        """
        ALTER TABLE pack_samples_ts SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'vehicle_id',
            timescaledb.compress_orderby = 'time DESC')
        """
    )
    await conn.execute("SELECT add_compression_policy('pack_samples_ts', INTERVAL '7 days')")
    await conn.execute("SELECT add_retention_policy('pack_samples_ts', INTERVAL '400 days')")
    compressed = await conn.fetch(
        "SELECT compress_chunk(c) FROM show_chunks('pack_samples_ts') AS c"
    )
    assert compressed
    # Compressed chunks still answer queries.
    assert await conn.fetchval("SELECT count(*) FROM pack_samples_ts") == len(rows)

    hypertables = await conn.fetch(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
    )
    assert ("pack_samples_ts", True) in [tuple(r) for r in hypertables]

    aggregates = await conn.fetch(
        "SELECT view_name, hypertable_name FROM timescaledb_information.continuous_aggregates"
    )
    assert [r["view_name"] for r in aggregates] == ["pack_temp_hourly"]
    assert aggregates[0]["hypertable_name"] == "pack_samples_ts"

    settings = await conn.fetch(
        """
        SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc
        FROM timescaledb_information.compression_settings
        WHERE hypertable_name = 'pack_samples_ts'
        """
    )
    by_column = {r["attname"]: r for r in settings}
    assert by_column["vehicle_id"]["segmentby_column_index"] == 1
    assert by_column["time"]["orderby_column_index"] == 1
    assert by_column["time"]["orderby_asc"] is False

    jobs = await conn.fetch(
        """
        SELECT proc_name, hypertable_name, schedule_interval
        FROM timescaledb_information.jobs WHERE job_id >= 1000
        """
    )
    procs = {(r["proc_name"], r["hypertable_name"]) for r in jobs}
    assert procs == {
        ("policy_refresh_continuous_aggregate", "pack_temp_hourly"),
        ("policy_compression", "pack_samples_ts"),
        ("policy_retention", "pack_samples_ts"),
    }
    refresh = next(r for r in jobs if r["proc_name"] == "policy_refresh_continuous_aggregate")
    assert refresh["schedule_interval"] == timedelta(minutes=15)


async def test_connections_one_after_another(timescale_port: int) -> None:
    # A closed client must free the single connection slot at once.
    for i in range(3):
        connection = await asyncpg.connect(
            timescale_compat.dsn(timescale_port), **timescale_compat.connect_kwargs()
        )
        try:
            assert await connection.fetchval("SELECT $1::int", i) == i
        finally:
            await connection.close(timeout=10)


async def test_second_client_waits_for_the_first(timescale_port: int) -> None:
    # One backend: a second client is held until the first one leaves.
    first = await asyncpg.connect(
        timescale_compat.dsn(timescale_port), **timescale_compat.connect_kwargs()
    )
    second_connect = asyncio.ensure_future(
        asyncpg.connect(timescale_compat.dsn(timescale_port), **timescale_compat.connect_kwargs())
    )
    try:
        await asyncio.sleep(1.0)
        assert not second_connect.done()
    finally:
        await first.close(timeout=10)
    second = await asyncio.wait_for(second_connect, 20)
    try:
        assert await second.fetchval("SELECT 1") == 1
    finally:
        await second.close(timeout=10)


def test_start_twice_and_status(timescale_target: tuple[Path, int], tmp_path: Path) -> None:
    state_dir, port = timescale_target
    pid = timescale_compat.status(state_dir, port)["pid"]
    timescale_compat.start(state_dir, port, PROJECT_ROOT)  # already running: left alone
    report = timescale_compat.status(state_dir, port)
    assert report["running"] is True
    assert report["listening"] is True
    assert report["pid"] == pid
    assert report["dsn"] == timescale_compat.dsn(port)
    # A state folder nobody started anything in reports stopped.
    assert timescale_compat.status(tmp_path, port)["running"] is False
