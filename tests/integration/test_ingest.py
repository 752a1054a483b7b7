"""Ingestion against the real broker and database: stored once, poison dead-lettered."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import pytest
from aiokafka import TopicPartition

from schemas.db.rollups import PUBLIC
from schemas.synthetic import payloads
from services.core.kafka import open_consumer
from services.ingest.errors import DlqLimitExceeded
from tests.conftest import NewTopicFactory
from tests.integration.ingest_support import (
    count,
    prepare_database,
    produce,
    running_ingest,
    settings_for,
    wait_for_rows,
)

pytestmark = pytest.mark.integration

VEHICLES = [f"T-{i:03d}" for i in range(10)]


def _poison(good: bytes, kind: str) -> bytes | None:
    doc = json.loads(good)
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "nan":
        return good.replace(b'"soc_pct":', b'"soc_pct":NaN,"x":', 1)
    if kind == "wrong_schema":
        return b'{"hello": "world"}'
    if kind == "out_of_range":
        doc["cell_voltages"][3] = 7.5
        return json.dumps(doc).encode()
    if kind == "oversized":
        doc["padding"] = "x" * 70_000
        return json.dumps(doc).encode()
    if kind == "unknown_vehicle":
        doc["vehicle_id"] = "NOT-REGISTERED"
        return json.dumps(doc).encode()
    raise AssertionError(kind)


POISON_KINDS = {
    "truncated": "undecodable",
    "nan": "non_finite",
    "wrong_schema": "wrong_schema",
    "out_of_range": "cell_voltage_out_of_range",
    "oversized": "oversized",
    "unknown_vehicle": "unknown_pack_design",
}


async def _read_dlq(bootstrap: str, topic: str, expected: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    async with open_consumer(bootstrap, [topic], group_id=f"dlq-{uuid.uuid4().hex[:6]}") as c:
        while len(out) < expected:
            batch = await c.getmany(timeout_ms=5000)
            if not batch:
                break
            for records in batch.values():
                for r in records:
                    out.append({k: v.decode() for k, v in r.headers})
    return out


async def test_valid_rows_stored_poison_dead_lettered_and_replay_changes_nothing(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    topic, dlq = await new_topic("pack", 4), await new_topic("dlq", 1)
    await prepare_database(database, VEHICLES)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    good = list(payloads(VEHICLES, start, 300))
    rng = random.Random(3)
    items: list[tuple[bytes, bytes | None]] = []
    expected_dlq: list[str] = []
    for i, (key, value, _) in enumerate(good):
        items.append((key, value))
        if i % 100 == 50:  # 1 % poison, every kind
            kind = rng.choice(sorted(POISON_KINDS))
            items.append((key, _poison(value, kind)))
            expected_dlq.append(POISON_KINDS[kind])
    await produce(kafka_bootstrap, topic, items)  # type: ignore[arg-type]

    core, settings = settings_for(kafka_bootstrap, database, topic, "g-ingest", dlq)
    async with running_ingest(core, settings) as service:
        assert await wait_for_rows(database, len(good)) == len(good)
    assert service.dead_lettered == len(expected_dlq)

    letters = await _read_dlq(kafka_bootstrap, dlq, len(expected_dlq))
    assert sorted(h["reason"] for h in letters) == sorted(expected_dlq)
    for h in letters:
        assert h["source_topic"] == topic
        assert 0 <= int(h["source_partition"]) < 4 and int(h["source_offset"]) >= 0
        assert h["detail"]
    assert await count(
        database, "SELECT count(DISTINCT (vehicle_id, ts)) FROM pack_samples"
    ) == len(good)
    n_minutes = await count(database, "SELECT sum(n) FROM pack_samples_1m")
    assert n_minutes == len(good)

    # Replay everything twice from the earliest offset: nothing changes.
    for round_ in range(2):
        replay_group = f"g-replay-{round_}"
        core, settings = settings_for(kafka_bootstrap, database, topic, replay_group, dlq)
        async with running_ingest(core, settings) as service:
            # The replay group has read everything once it has committed every offset.
            await _wait_committed(kafka_bootstrap, topic, replay_group, len(items))
        assert await count(database) == len(good)
        assert await count(database, "SELECT sum(n) FROM pack_samples_1h") == len(good)
        assert service.rows_committed == 0


async def _wait_committed(bootstrap: str, topic: str, group: str, total: int) -> None:
    async with open_consumer(bootstrap, [], group_id=group) as c:
        parts = [TopicPartition(topic, p) for p in range(4)]
        for _ in range(240):
            committed = 0
            for tp in parts:
                committed += (await c.committed(tp)) or 0
            if committed >= total:
                return
            await asyncio.sleep(0.25)
    raise AssertionError(f"group {group} did not commit {total} offsets")


async def test_late_and_shuffled_data_all_stored_and_rollups_exact(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    topic, dlq = await new_topic("pack", 3), await new_topic("dlq", 1)
    vehicles = VEHICLES[:4]
    await prepare_database(database, vehicles)
    now = datetime.now(UTC).replace(microsecond=0)
    recent = list(payloads(vehicles, now - timedelta(hours=1), 900, seed=1))
    late = list(payloads(vehicles, now - timedelta(days=2), 300, seed=2))
    items = [(k, v) for k, v, _ in recent + late]
    random.Random(5).shuffle(items)
    await produce(kafka_bootstrap, topic, items)
    core, settings = settings_for(kafka_bootstrap, database, topic, "g-late", dlq)
    async with running_ingest(core, settings):
        assert await wait_for_rows(database, len(items)) == len(items)
    conn = await asyncpg.connect(database)
    try:
        for table, width in (("pack_samples_1m", "1 minute"), ("pack_samples_1h", "1 hour")):
            names = [name for name, *_ in PUBLIC]
            stored = await conn.fetch(f"SELECT * FROM {table} ORDER BY vehicle_id, bucket")
            raw = await conn.fetch(
                f"""SELECT vehicle_id, date_bin(INTERVAL '{width}', ts,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                    {", ".join(f"{expr} AS {name}" for name, expr, _, _ in PUBLIC)}
                FROM pack_samples GROUP BY 1, 2 ORDER BY 1, 2"""
            )
            assert len(stored) == len(raw)
            for s, r in zip(stored, raw, strict=True):
                for n in names:
                    if r[n] is None:
                        assert s[n] is None
                    else:
                        assert s[n] == pytest.approx(r[n], rel=1e-9, abs=1e-9), (table, n)
    finally:
        await conn.close()


async def test_a_bad_deploy_trips_the_dlq_limit_instead_of_draining_the_stream(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    topic, dlq = await new_topic("pack", 1), await new_topic("dlq", 1)
    await prepare_database(database, VEHICLES[:2])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    good = [(k, v) for k, v, _ in payloads(VEHICLES[:2], start, 100)]
    # After the good stretch, a "deploy" starts sending a schema nobody reads.
    bad = [(k, msgspec.json.encode({"v2": True, "data": v.decode()})) for k, v in good]
    await produce(kafka_bootstrap, topic, good)
    core, settings = settings_for(
        kafka_bootstrap, database, topic, "g-limit", dlq, dlq_window=100, dlq_max_ratio=0.5,
        dlq_max_consecutive=1000,
    )  # fmt: skip
    with pytest.raises(DlqLimitExceeded):
        async with running_ingest(core, settings) as service:
            assert await wait_for_rows(database, len(good)) == len(good)
            await produce(kafka_bootstrap, topic, bad)
            await asyncio.wait_for(service.finished.wait(), 60)
    assert await count(database) == len(good)
    # It stopped long before the bad stretch was drained into the DLQ, and the
    # offsets of the bad stretch stay uncommitted for a fixed consumer to read.
    assert service.dead_lettered <= 100
    async with open_consumer(kafka_bootstrap, [], group_id="g-limit") as c:
        committed = await c.committed(TopicPartition(topic, 0))
    assert committed is not None and len(good) <= committed < len(good) + 100


async def test_an_unregistered_bus_is_dead_lettered_without_tripping_the_limit(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    topic, dlq = await new_topic("pack", 1), await new_topic("dlq", 1)
    await prepare_database(database, VEHICLES[:1])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    stranger = [(k, v) for k, v, _ in payloads(["NOT-YET-REGISTERED"], start, 250)]
    known = [(k, v) for k, v, _ in payloads(VEHICLES[:1], start, 50)]
    await produce(kafka_bootstrap, topic, stranger + known)
    core, settings = settings_for(
        kafka_bootstrap, database, topic, "g-stranger", dlq, dlq_window=100, dlq_max_ratio=0.5
    )
    async with running_ingest(core, settings) as service:
        assert await wait_for_rows(database, len(known)) == len(known)
    assert service.dead_lettered == len(stranger)
    letters = await _read_dlq(kafka_bootstrap, dlq, len(stranger))
    assert {h["reason"] for h in letters} == {"unknown_pack_design"}
