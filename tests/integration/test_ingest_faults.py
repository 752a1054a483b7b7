"""Ingestion when things fail: killed processes, restarted servers, rebalances, slowness.

Each test runs ``packwatch ingest`` as real processes against the real broker
and database, and checks the one property that matters: every sample sent is
in ``pack_samples`` exactly once, and nothing valid went to the DLQ.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from schemas.synthetic import payloads
from tests.conftest import NewTopicFactory
from tests.integration.ingest_support import (
    count,
    ingest_process,
    prepare_database,
    produce,
    wait_for_rows,
)
from tests.integration.test_ingest_outages import _dlq_size

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CELLS, SENSORS = 24, 8  # small packs: the subject is delivery, not payload size


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def _assert_exactly_once(dsn: str, sent: int) -> None:
    assert await count(dsn) == sent
    assert await count(dsn, "SELECT count(DISTINCT (vehicle_id, ts)) FROM pack_samples") == sent
    assert await count(dsn, "SELECT coalesce(sum(n), 0) FROM pack_samples_1m") == sent


async def test_sigkill_twenty_times_while_100000_samples_flow(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, dlq, items = await _fleet(database, new_topic, "K", 100, 1000)
    assert len(items) == 100_000

    async def flow() -> None:  # samples keep arriving while the consumer dies
        for i in range(0, len(items), 10_000):
            await produce(kafka_bootstrap, topic, items[i : i + 10_000])
            await asyncio.sleep(0.5)

    producer = asyncio.create_task(flow())
    rng = random.Random(20)
    log = tmp_path / "ingest.log"
    extra = {"PACKWATCH_INGEST_GROUP_INSTANCE_ID": "ingest-0"}
    kills = 0
    while kills < 20:
        before = _starts(log)
        proc = ingest_process(kafka_bootstrap, database, topic, "g-kill", dlq, log, **extra)
        if kills % 2:
            # Mid-work: a random moment after it started consuming (start-up
            # alone can take seconds on a busy machine).
            await _started(log, before)
            await asyncio.sleep(rng.uniform(0.2, 2.5))
        else:
            await asyncio.sleep(rng.uniform(1.0, 3.5))  # start-up, mid-batch, mid-commit …
        proc.kill()
        proc.wait(10)
        kills += 1
    await producer
    # The killed processes were working: they committed rows between the kills.
    stored_by_killed = await count(database)
    assert stored_by_killed > 0
    proc = ingest_process(kafka_bootstrap, database, topic, "g-kill", dlq, log, **extra)
    try:
        assert await wait_for_rows(database, len(items), limit_s=180) == len(items)
        await asyncio.sleep(1.0)  # anything still in flight would now show as a duplicate
        await _assert_exactly_once(database, len(items))
    finally:
        _stop(proc)
    assert kills == 20
    assert await _dlq_size(kafka_bootstrap, dlq) == 0


def _starts(log: Path) -> int:
    """How many ingest processes logged that they started consuming."""
    return log.read_text().count('"ingest_started"') if log.exists() else 0


def _events(log: Path) -> list[dict[str, Any]]:
    """The complete JSON log lines of ``log``, parsed, in order."""
    lines = log.read_text().split("\n")[:-1]  # the last one may still be being written
    return [json.loads(line) for line in lines if line.startswith("{")]


async def _started(log: Path, before: int, limit_s: float = 60.0) -> None:
    """Wait until one more ingest process than ``before`` has started consuming."""
    for _ in range(int(limit_s / 0.05)):
        if _starts(log) > before:
            return
        await asyncio.sleep(0.05)


async def _fleet(
    database: str, new_topic: NewTopicFactory, prefix: str, buses: int, seconds: int
) -> tuple[str, str, list[tuple[bytes, bytes]]]:
    """A topic, a DLQ topic and ``seconds`` of samples from ``buses`` registered buses."""
    topic, dlq = await new_topic("pack", 6), await new_topic("dlq", 1)
    vehicles = [f"{prefix}-{i:03d}" for i in range(buses)]
    await prepare_database(database, vehicles, CELLS, SENSORS)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = payloads(vehicles, start, seconds, cells=CELLS, sensors=SENSORS)
    return topic, dlq, [(k, v) for k, v, _ in items]


async def test_rebalances_and_a_stalled_instance_lose_nothing(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, dlq, items = await _fleet(database, new_topic, "R", 60, 600)
    log = tmp_path / "ingest.log"
    extra = {
        "PACKWATCH_INGEST_SESSION_TIMEOUT_MS": "6000",
        "PACKWATCH_INGEST_MAX_POLL_INTERVAL_MS": "8000",
        "PACKWATCH_INGEST_BATCH_MAX_ROWS": "500",
    }

    def spawn() -> subprocess.Popen[bytes]:
        return ingest_process(kafka_bootstrap, database, topic, "g-reb", dlq, log, **extra)

    procs = [spawn() for _ in range(3)]
    producer = asyncio.create_task(produce(kafka_bootstrap, topic, items))
    rng = random.Random(5)
    try:
        # Instances leave (cleanly or killed) and join every few seconds.
        for round_ in range(6):
            await asyncio.sleep(rng.uniform(2, 4))
            victim = procs.pop(rng.randrange(len(procs)))
            if round_ % 2:
                victim.kill()
                victim.wait(10)
            else:
                _stop(victim)
            procs.append(spawn())
        # One instance stalls past max.poll.interval.ms, then wakes up.
        stalled = procs[0]
        stalled.send_signal(signal.SIGSTOP)
        await asyncio.sleep(12)
        stalled.send_signal(signal.SIGCONT)
        await producer
        assert await wait_for_rows(database, len(items), limit_s=180) == len(items)
        await asyncio.sleep(2.0)
        await _assert_exactly_once(database, len(items))
        assert await _dlq_size(kafka_bootstrap, dlq) == 0
        # No crash loops: every instance still running.
        assert all(p.poll() is None for p in procs), log.read_text()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
            _stop(p)


async def test_workers_share_the_group_and_store_everything_once(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, dlq, items = await _fleet(database, new_topic, "W", 30, 200)
    log = tmp_path / "ingest.log"
    extra = {"PACKWATCH_INGEST_WORKERS": "2", "PACKWATCH_INGEST_MAX_RSS_MB": "900"}
    proc = ingest_process(kafka_bootstrap, database, topic, "g-workers", dlq, log, **extra)
    try:
        await produce(kafka_bootstrap, topic, items)
        assert await wait_for_rows(database, len(items), limit_s=120) == len(items)
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 2
        assert all(w.is_running() for w in workers)
        await asyncio.sleep(1.0)
        await _assert_exactly_once(database, len(items))
        # Both workers started consuming in the group, with half the memory cap each.
        await _started(log, 1)
        assert _starts(log) == 2, log.read_text()[-3000:]
        # They joined the group together: both were ready before the gate opened,
        # and no partition was assigned before it (the supervisor logs, then opens).
        events = [e.get("event") for e in _events(log)]
        assert events.count("start_gate_passed") == 2, events
        joining = [e for e in _events(log) if e.get("event") == "ingest_workers_joining"]
        assert [(e["ready"], e["workers"]) for e in joining] == [(2, 2)], events
        gate_opened = events.index("ingest_workers_joining")
        assert "partitions_assigned" not in events[:gate_opened]
        assert "partitions_assigned" in events[gate_opened:]
        assert all("PACKWATCH_INGEST_MAX_RSS_MB" in w.environ() for w in workers)
        assert {w.environ()["PACKWATCH_INGEST_MAX_RSS_MB"] for w in workers} == {"450"}
    finally:
        _stop(proc)
    assert proc.returncode == 0
    assert not any(w.is_running() for w in workers)
    assert await _dlq_size(kafka_bootstrap, dlq) == 0
