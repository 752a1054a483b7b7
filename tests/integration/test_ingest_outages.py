"""Ingestion through server restarts and a slow database."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from aiokafka import TopicPartition

from schemas.synthetic import payloads
from services.core.kafka import open_consumer
from services.stack import kafka, postgres
from tests.conftest import NewTopicFactory
from tests.integration.ingest_support import (
    count,
    ingest_process,
    prepare_database,
    produce,
    wait_for_rows,
)
from tests.integration.latency_proxy import LatencyProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def test_broker_and_database_restarts_lose_nothing_and_send_nothing_to_dlq(
    local_servers: tuple[kafka.KafkaConfig, postgres.PostgresConfig],
    kafka_bootstrap: str,
    database: str,
    new_topic: NewTopicFactory,
    tmp_path: Path,
) -> None:
    kafka_cfg, pg_cfg = local_servers
    topic, dlq = await new_topic("pack", 3), await new_topic("dlq", 1)
    vehicles = [f"O-{i:02d}" for i in range(20)]
    await prepare_database(database, vehicles, 24, 8)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [(k, v) for k, v, _ in payloads(vehicles, start, 900, cells=24, sensors=8)]
    thirds = [items[i::3] for i in range(3)]
    log = tmp_path / "ingest.log"
    proc = ingest_process(kafka_bootstrap, database, topic, "g-out", dlq, log)
    try:
        await produce(kafka_bootstrap, topic, thirds[0])
        assert await wait_for_rows(database, len(thirds[0]), limit_s=90) == len(thirds[0])

        # The database goes away while samples keep arriving.
        await produce(kafka_bootstrap, topic, thirds[1][: len(thirds[1]) // 2])
        await asyncio.to_thread(postgres.stop, pg_cfg)
        await produce(kafka_bootstrap, topic, thirds[1][len(thirds[1]) // 2 :])
        try:
            await asyncio.sleep(8)
            assert proc.poll() is None, f"ingest exited while the database was down:\n{_tail(log)}"
        finally:
            await asyncio.to_thread(postgres.start, pg_cfg)
        expected = len(thirds[0]) + len(thirds[1])
        assert await wait_for_rows(database, expected, limit_s=120) == expected

        # The broker goes away and comes back.
        await asyncio.to_thread(kafka.stop, kafka_cfg)
        try:
            await asyncio.sleep(3)
            assert proc.poll() is None, f"ingest exited while the broker was down:\n{_tail(log)}"
        finally:
            await asyncio.to_thread(kafka.start, kafka_cfg)
        await produce(kafka_bootstrap, topic, thirds[2])
        assert await wait_for_rows(database, len(items), limit_s=180) == len(items)
        assert proc.poll() is None, _tail(log)
    finally:
        _stop(proc)
    assert await count(database) == len(items)
    assert await count(database, "SELECT coalesce(sum(n), 0) FROM pack_samples_1m") == len(items)
    assert "db_write_retry" in log.read_text()  # it waited the outage out …
    assert await _dlq_size(kafka_bootstrap, dlq) == 0  # … and dead-lettered nothing


def _tail(log: Path, lines: int = 40) -> str:
    """The end of a service's log, for an assertion message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def _dlq_size(bootstrap: str, topic: str) -> int:
    async with open_consumer(bootstrap, [], group_id=None) as c:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        end = (await c.end_offsets([tp]))[tp]
        return int(end)


async def test_a_connection_lost_in_the_middle_of_a_write_is_retried(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    """The server ends the writer's connection while its COPY runs (as a restart does).

    A statement trigger holds the first COPY in ``pg_sleep`` so the kill lands
    inside the transaction every time, not only when a restart happens to.
    """
    import asyncpg

    topic, dlq = await new_topic("pack", 2), await new_topic("dlq", 1)
    vehicles = [f"MW-{i:02d}" for i in range(10)]
    await prepare_database(database, vehicles, 24, 8)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [(k, v) for k, v, _ in payloads(vehicles, start, 200, cells=24, sensors=8)]
    admin = await asyncpg.connect(database)
    await admin.execute(
        "CREATE FUNCTION hold_copy() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;"
        "CREATE TRIGGER hold_copy BEFORE INSERT ON pack_samples "
        "FOR EACH STATEMENT EXECUTE FUNCTION hold_copy()"
    )
    held = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'packwatch-ingest' "
        "AND wait_event = 'PgSleep' AND datname = current_database()"
    )
    log = tmp_path / "ingest.log"
    proc = ingest_process(kafka_bootstrap, database, topic, "g-mid", dlq, log)
    try:
        await produce(kafka_bootstrap, topic, items)
        for _ in range(600):
            if await admin.fetch(held):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"no write reached the trigger:\n{_tail(log)}")
        # Kill every held write until the trigger is gone (a retry may be held again).
        await admin.execute("SET lock_timeout = '500ms'")
        while True:
            for row in await admin.fetch(held):
                await admin.execute("SELECT pg_terminate_backend($1)", row["pid"])
            try:
                await admin.execute("DROP TRIGGER hold_copy ON pack_samples")
                break
            except asyncpg.LockNotAvailableError:
                assert proc.poll() is None, f"ingest exited on a lost connection:\n{_tail(log)}"
        assert await wait_for_rows(database, len(items), limit_s=90) == len(items)
        assert proc.poll() is None, f"ingest exited on a lost connection:\n{_tail(log)}"
    finally:
        _stop(proc)
        await admin.close()
    assert await count(database) == len(items)
    assert await _dlq_size(kafka_bootstrap, dlq) == 0
    assert "db_write_retry" in log.read_text()


async def test_slow_database_pauses_consumption_within_the_memory_cap(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, dlq = await new_topic("pack", 3), await new_topic("dlq", 1)
    vehicles = [f"S-{i:03d}" for i in range(50)]
    await prepare_database(database, vehicles)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [(k, v) for k, v, _ in payloads(vehicles, start, 600)]  # 30,000 × 176-cell samples
    await produce(kafka_bootstrap, topic, items)
    host, _, rest = database.removeprefix("postgresql://postgres@").partition(":")
    port, _, dbname = rest.partition("/")
    cap_mb = 300
    log = tmp_path / "ingest.log"
    async with LatencyProxy(host, int(port), delay_s=0.05) as proxy:
        slow_dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/{dbname}"
        proc = ingest_process(
            kafka_bootstrap, slow_dsn, topic, "g-slow", dlq, log,
            PACKWATCH_INGEST_MAX_RSS_MB=str(cap_mb), PACKWATCH_INGEST_BATCH_MAX_ROWS="2000",
        )  # fmt: skip
        peak = 0
        try:
            ps = psutil.Process(proc.pid)
            for _ in range(100):  # 10 s of a slow database
                peak = max(peak, ps.memory_info().rss)
                await asyncio.sleep(0.1)
            during = await count(database)
            assert during < len(items), "the slowdown did not slow anything"
            proxy.delay_s = 0.0
            while await count(database) < len(items):
                peak = max(peak, ps.memory_info().rss)
                assert proc.poll() is None
                await asyncio.sleep(0.2)
        finally:
            _stop(proc)
    assert await count(database) == len(items)
    assert peak < cap_mb * 1024 * 1024 * 1.1, f"peak RSS {peak >> 20} MB over the cap"
    # It paused its partitions: on a full queue of pending batches, or on the memory cap.
    text = log.read_text()
    assert "backpressure_pause" in text or "memory_cap_pause" in text


async def test_a_read_only_database_is_waited_out_not_dead_lettered(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    """As after a failover to a standby: every write fails with SQLSTATE 25006."""
    import asyncpg

    topic, dlq = await new_topic("pack", 2), await new_topic("dlq", 1)
    vehicles = [f"RO-{i:02d}" for i in range(10)]
    await prepare_database(database, vehicles, 24, 8)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [(k, v) for k, v, _ in payloads(vehicles, start, 300, cells=24, sensors=8)]
    dbname = database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(database.rsplit("/", 1)[0] + "/postgres")
    log = tmp_path / "ingest.log"
    proc = ingest_process(kafka_bootstrap, database, topic, "g-ro", dlq, log)
    try:
        await produce(kafka_bootstrap, topic, items[:1000])
        assert await wait_for_rows(database, 1000, limit_s=90) == 1000
        await admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = 'packwatch-ingest'",
            dbname,
        )
        await produce(kafka_bootstrap, topic, items[1000:])
        await asyncio.sleep(6)
        assert await count(database) == 1000  # nothing written while read-only …
        assert proc.poll() is None  # … and the service kept waiting
        await admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = off')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = 'packwatch-ingest'",
            dbname,
        )
        assert await wait_for_rows(database, len(items), limit_s=90) == len(items)
    finally:
        _stop(proc)
        await admin.close()
    assert await _dlq_size(kafka_bootstrap, dlq) == 0
    assert "db_write_retry" in log.read_text()
