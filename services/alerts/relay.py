"""The outbox relay: committed alert changes to ``pack.alerts.v1``, then marked sent.

One pass takes the oldest unsent rows under a transaction-scoped advisory
lock (one relay publishes at a time across processes, so a vehicle's
messages keep their order), sends them with the idempotent producer keyed by
vehicle id with an ``idempotency-key`` header, waits for every
acknowledgement, and marks them sent in the same transaction.

A crash after the send and before that commit sends the rows again on the
next pass: consumers deduplicate on the idempotency key. A crash before the
send loses nothing: the rows are still unsent.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaProducer

from services.alerts.metric_defs import AlertMetrics

RELAY_LOCK_SQL = "SELECT pg_try_advisory_xact_lock(hashtextextended('packwatch-alert-relay', 0))"
UNSENT_SQL = """SELECT outbox_id, idempotency_key, vehicle_id, payload FROM alert_outbox
WHERE sent_at IS NULL ORDER BY outbox_id LIMIT $1"""
MARK_SQL = "UPDATE alert_outbox SET sent_at = now() WHERE outbox_id = ANY($1::bigint[])"
BACKLOG_SQL = "SELECT count(*) FROM alert_outbox WHERE sent_at IS NULL"


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topic: str,
        metrics: AlertMetrics,
        batch: int = 500,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.topic = topic
        self.metrics = metrics
        self.batch = batch
        self.published = 0

    async def run_once(self) -> int:
        """Publish up to one batch of unsent rows; returns how many were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(RELAY_LOCK_SQL):
                return 0  # another relay is publishing
            rows = await conn.fetch(UNSENT_SQL, self.batch)
            if not rows:
                self.metrics.outbox_backlog.set(0)
                return 0
            futures = [
                await self.producer.send(
                    self.topic,
                    key=r["vehicle_id"].encode(),
                    value=bytes(r["payload"]),
                    headers=[("idempotency-key", r["idempotency_key"].encode())],
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(MARK_SQL, [r["outbox_id"] for r in rows])
        self.published += len(rows)
        self.metrics.published.inc(len(rows))
        if len(rows) == self.batch:
            self.metrics.outbox_backlog.set(await self.pool.fetchval(BACKLOG_SQL))
        return len(rows)
