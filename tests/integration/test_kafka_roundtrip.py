"""The real broker keeps every keyed message and each key's order."""

from __future__ import annotations

import collections
import uuid

import pytest

from services.core.kafka import open_consumer, open_producer
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration

N_MESSAGES = 10_000
N_KEYS = 50


async def test_10000_keyed_messages_come_back_complete_and_in_key_order(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("roundtrip", partitions=6)
    sent: dict[bytes, list[int]] = collections.defaultdict(list)
    async with open_producer(kafka_bootstrap) as producer:
        futures = []
        for i in range(N_MESSAGES):
            key = f"bus-{i % N_KEYS:03d}".encode()
            sent[key].append(i)
            futures.append(await producer.send(topic, key=key, value=str(i).encode()))
        await producer.flush()
        for fut in futures:
            await fut  # every send acknowledged by the broker

    received: dict[bytes, list[int]] = collections.defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = collections.defaultdict(set)
    count = 0
    async with open_consumer(
        kafka_bootstrap, [topic], group_id=f"g-{uuid.uuid4().hex[:8]}"
    ) as consumer:
        while count < N_MESSAGES:
            batch = await consumer.getmany(timeout_ms=5000, max_records=2000)
            if not batch:
                break
            for tp, records in batch.items():
                for rec in records:
                    assert rec.key is not None and rec.value is not None
                    received[rec.key].append(int(rec.value))
                    partitions_of_key[rec.key].add(tp.partition)
                    count += 1
        await consumer.commit()

    assert count == N_MESSAGES
    assert received == sent  # same keys, same values, same order per key
    assert all(len(parts) == 1 for parts in partitions_of_key.values())
    assert len({p for parts in partitions_of_key.values() for p in parts}) > 1
