"""The shared lifecycles against the real database and broker."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.core.db import open_pool, ping
from services.core.kafka import open_consumer, open_producer
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration


async def test_pool_answers_and_is_closed_on_exit(database: str) -> None:
    async with open_pool(database, statement_timeout_ms=1000) as pool:
        assert await ping(pool)
        timeout = await pool.fetchval("SHOW statement_timeout")
        assert timeout == "1s"
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.execute("SELECT pg_sleep(5)")
    assert pool._closed


async def test_consumer_commits_only_when_told(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("commit", partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with open_producer(kafka_bootstrap) as producer:
        for i in range(10):
            await producer.send_and_wait(topic, key=b"bus-1", value=str(i).encode())
    # First consumer reads everything but commits only the first five.
    async with open_consumer(kafka_bootstrap, [topic], group_id=group) as consumer:
        seen: list[int] = []
        while len(seen) < 10:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "no messages arrived"
            for tp, records in batch.items():
                for rec in records:
                    seen.append(rec.offset)
                    if rec.offset == 4:
                        await consumer.commit({tp: rec.offset + 1})
    # A second consumer in the group resumes after the committed offset, not the read one.
    async with open_consumer(kafka_bootstrap, [topic], group_id=group) as consumer:
        batch = await consumer.getmany(timeout_ms=10000)
        offsets = sorted(r.offset for records in batch.values() for r in records)
        assert offsets[0] == 5
