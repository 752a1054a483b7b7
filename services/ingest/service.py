"""The ingest service: a consumer loop feeding a single writer, with backpressure.

Two tasks share one bounded queue of closed batches:

- the *reader* polls Kafka, decodes and validates what each poll returned as
  one columnar batch (:mod:`schemas.pack_batch`), and closes a batch on size,
  or on time once the writer is free to take it; when the queue is full it pauses its partitions
  (explicit backpressure: nothing is buffered past ``max_pending_batches``);
- the *writer* publishes a batch's dead letters (waiting for the broker's
  acknowledgement), writes its rows (:mod:`services.ingest.writer`), and only
  then commits the batch's offsets.

Batches are written and committed in the order they were read, so a crash at
any point re-reads only messages whose effect is idempotent. On a rebalance
the revoked partitions' pending work is written and committed before they go.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psutil
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import Histogram

from schemas.common import micros
from schemas.errors import RejectReason, SampleRejected
from schemas.pack_batch import BatchVerdict, decode_and_validate_batch
from services.core.errors import with_retries
from services.core.kafka import commit_owned
from services.core.metric_defs import PipelineMetrics, observe_many
from services.core.pipeline import run_reader_and_sink
from services.ingest.batch import Batch, Source
from services.ingest.dlq import DeadLetter, DlqLimit
from services.ingest.registry import DesignRegistry
from services.ingest.rows import as_stored
from services.ingest.settings import IngestSettings
from services.ingest.writer import Writer

log = structlog.get_logger(__name__)
SERVICE = "ingest"
_DONE = object()
# How often a batch that is due but held (the writer is busy) checks again.
_HELD_POLL_MS = 10


class IngestService:
    """One ingest consumer. Build it, then ``await run(stop)``."""

    def __init__(
        self,
        settings: IngestSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        writer: Writer,
        registry: DesignRegistry,
        refresh_registry: Callable[[], Any],
        metrics: PipelineMetrics,
        e2e_latency: Histogram,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.s = settings
        self.consumer = consumer
        self.producer = producer
        self.writer = writer
        self.registry = registry
        self._refresh_registry = refresh_registry
        self.metrics = metrics
        self.e2e_latency = e2e_latency
        self.clock = clock
        self.queue: asyncio.Queue[Batch | object] = asyncio.Queue(settings.max_pending_batches)
        self.batch = self._new_batch()
        self.limit = DlqLimit(
            settings.dlq_max_ratio, settings.dlq_window, settings.dlq_max_consecutive
        )
        self.max_future = timedelta(seconds=settings.max_future_s)
        self.max_past = timedelta(days=settings.max_past_days)
        self.rows_committed = 0
        self.dead_lettered = 0
        self._committed: dict[TopicPartition, int] = {}
        self._unwritten = 0  # batches handed to the writer and not yet written
        self.finished = asyncio.Event()  # set when run() has returned or raised
        self._process = psutil.Process()

    def _new_batch(self) -> Batch:
        return Batch(self.s.batch_max_rows, self.s.batch_max_ms)

    # ----------------------------------------------------------------- reader
    def _verdict(self, values: list[bytes], now: datetime) -> BatchVerdict:
        return decode_and_validate_batch(
            values,
            design=self.registry.limits_of,
            now=now,
            max_future=self.max_future,
            max_past=self.max_past,
            max_bytes=self.s.max_payload_bytes,
        )

    async def _refresh_registry_until_done(self) -> None:
        """Reload the registry; while the database is down, wait rather than reject."""
        await with_retries(
            self._refresh_registry, what="registry_refresh", stopping=lambda: False,
            retry_initial_s=self.s.retry_initial_s, retry_max_s=self.s.retry_max_s,
        )  # fmt: skip

    async def _decode(self, values: list[bytes]) -> BatchVerdict:
        now = self.clock()
        verdict = self._verdict(values, now)
        if self.registry.may_refresh() and any(
            r.reason_code == RejectReason.UNKNOWN_PACK_DESIGN for r in verdict.rejected.values()
        ):
            await self._refresh_registry_until_done()
            verdict = self._verdict(values, now)
        return verdict

    async def _add(self, messages: list[tuple[TopicPartition, ConsumerRecord[Any, Any]]]) -> None:
        """Decode and validate ``messages`` together; their rows and dead letters join the batch."""
        values = [rec.value for _, rec in messages if rec.value is not None]
        where = [i for i, (_, rec) in enumerate(messages) if rec.value is not None]
        verdict = await self._decode(values)
        rejected = {where[p]: r for p, r in verdict.rejected.items()}
        for i, (tp, rec) in enumerate(messages):
            self.batch.note(tp, rec.offset)
            result = rejected.get(i)
            if rec.value is None:
                result = SampleRejected(
                    RejectReason.UNDECODABLE, "message has no value (tombstone)"
                )
            if result is not None:
                self.batch.dead.append(
                    DeadLetter(rec.key, rec.value, str(result.reason_code), result.detail,
                               tp.topic, tp.partition, rec.offset)
                )  # fmt: skip
            # Raises DlqLimitExceeded before anything of this batch is committed. A bus
            # missing from the registry is not a sign of a bad deploy: its samples go
            # to the DLQ (replayable once it is registered) without counting here.
            self.limit.record(
                result is not None and result.reason_code != RejectReason.UNKNOWN_PACK_DESIGN
            )
        for cols in verdict.accepted:
            sources: list[Source] = []
            for p in cols.positions.tolist():
                tp, rec = messages[where[p]]
                sources.append((rec.key, rec.value, tp, rec.offset))
            self.batch.add_rows(as_stored(cols), sources)

    async def _close_batch(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, self._new_batch()
        if self._process.memory_info().rss > self.s.max_rss_mb * 1024 * 1024:
            # Over the memory cap: hold the partitions until every pending batch is written.
            self.consumer.pause(*self.consumer.assignment())
            self.metrics.paused.labels(SERVICE).set(1)
            log.warning("memory_cap_pause", rss_mb=self._process.memory_info().rss >> 20)
            await self.queue.join()
            self.consumer.resume(*self.consumer.assignment())
            self.metrics.paused.labels(SERVICE).set(0)
        self._unwritten += 1
        if self.queue.full():
            assigned = self.consumer.assignment()
            self.consumer.pause(*assigned)
            self.metrics.paused.labels(SERVICE).set(1)
            log.info("backpressure_pause", pending=self.queue.qsize())
            await self.queue.put(batch)
            self.consumer.resume(*self.consumer.assignment())
            self.metrics.paused.labels(SERVICE).set(0)
        else:
            self.queue.put_nowait(batch)

    async def _read(self, stop: asyncio.Event) -> None:
        topic_label = self.s.topic
        while not stop.is_set():
            if not self.batch:
                timeout = self.s.batch_max_ms
            elif self.batch.expired():
                timeout = _HELD_POLL_MS  # due, but held while the writer is busy
            else:
                timeout = self.batch.remaining_ms()
            fetched = await self.consumer.getmany(
                timeout_ms=max(timeout, 1),
                max_records=min(self.s.poll_max_records, self.batch.room or self.s.batch_max_rows),
            )
            messages: list[tuple[TopicPartition, ConsumerRecord[Any, Any]]] = []
            for tp, records in fetched.items():
                self.metrics.messages_in.labels(SERVICE, topic_label).inc(len(records))
                messages.extend((tp, rec) for rec in records)
            while messages:
                take, messages = messages[: self.batch.room], messages[self.batch.room :]
                await self._add(take)
                if self.batch.full:
                    await self._close_batch()
            # On time, a batch closes only when the writer is free to take it: while
            # a write is in flight the batch keeps filling (up to its size), so
            # under load batches grow and their fixed cost (commit, rollup merge)
            # is shared by more rows, and at low load they stay small and quick.
            if self.batch.expired() and not self._unwritten:
                await self._close_batch()
            self._update_lag()
        await self._close_batch()

    def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            committed = self._committed.get(tp)
            if high is None or committed is None:
                continue
            self.metrics.consumer_lag.labels(SERVICE, str(tp.partition)).set(
                max(0, high - committed)
            )

    # ----------------------------------------------------------------- writer
    async def _publish_dead(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return

        async def publish() -> None:
            # At least once, as the stream: a retry sends the whole list again, so a
            # letter the broker took before the failure may be in the DLQ twice.
            futures = [
                await self.producer.send(
                    self.s.dlq_topic, key=d.key, value=d.payload, headers=d.headers(SERVICE)
                )
                for d in dead
            ]
            await asyncio.gather(*futures)

        await with_retries(
            publish, what="dlq_publish", stopping=lambda: False,
            retry_initial_s=self.s.retry_initial_s, retry_max_s=self.s.retry_max_s,
        )  # fmt: skip
        for d in dead:
            self.metrics.dlq_messages.labels(SERVICE, d.reason).inc()
        self.dead_lettered += len(dead)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        committed = await commit_owned(
            self.consumer, offsets, retry_initial_s=self.s.retry_initial_s
        )
        self._committed.update(committed)

    async def _write_one(self, batch: Batch) -> None:
        await self._publish_dead(batch.dead)
        result = await self.writer.write(batch)
        if result.refused:
            for _ in result.refused:
                self.limit.record(True)
            await self._publish_dead(
                [
                    DeadLetter(
                        src[0], src[1], "db_rejected", why, src[2].topic, src[2].partition, src[3]
                    )
                    for i, why in result.refused
                    for src in [batch.sources[i]]
                ]
            )
        await self._commit(batch.offsets)
        committed = self.clock()
        self.rows_committed += result.inserted
        self.metrics.rows_written.labels(SERVICE, "pack_samples").inc(result.inserted)
        if batch.opened_at is not None:
            self.metrics.batch_latency.labels(SERVICE).observe(time.monotonic() - batch.opened_at)
        ts = batch.sample_ts_us()
        observe_many(self.e2e_latency, np.maximum(0, micros(committed) - ts) / 1e6)

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is _DONE:
                    return
                assert isinstance(item, Batch)
                try:
                    await self._write_one(item)
                finally:
                    self._unwritten -= 1
            finally:
                self.queue.task_done()

    async def drain_before_revoke(self, revoked: set[TopicPartition]) -> None:
        """Write and commit what was read from partitions about to be revoked."""

        async def drain() -> None:
            if self.batch:
                batch, self.batch = self.batch, self._new_batch()
                self._unwritten += 1
                await self.queue.put(batch)
            await self.queue.join()

        # Bounded: a database outage must not hold the whole group's rebalance.
        # What is not committed by then is re-read by the next owner (idempotent).
        try:
            await asyncio.wait_for(drain(), timeout=self.s.batch_max_ms / 1000 + 20)
        except TimeoutError:
            log.warning("revoke_drain_timeout", partitions=sorted(tp.partition for tp in revoked))

    # ------------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then write and commit what was read."""
        try:
            await run_reader_and_sink(
                self._read(stop), self._write(), lambda: self.queue.put(_DONE), "ingest"
            )
        finally:
            self.finished.set()
