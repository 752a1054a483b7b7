"""The decoder service: CAN bundles in, PackSamples out, offsets after the acknowledgements.

Two tasks share one bounded queue of produced batches:

- the *reader* polls ``telemetry.can.v1`` (one poll = one batch), decodes all
  of the batch's bundles in one vectorised pass, converts them
  (:mod:`services.decoder.convert`) and hands every sample and dead letter to
  the idempotent producer in offset order, so each vehicle's samples keep
  their order; when the queue is full it pauses its partitions;
- the *acker* waits until every send of a batch is acknowledged, then commits
  the batch's offsets (several ready batches share one commit).

A failed send never commits past itself: the acker drops the failed batch and
everything read after it, the reader seeks back to the last acknowledged
offsets and produces them again (duplicates downstream are harmless: ingest
is idempotent on (vehicle, ts)). After ``max_produce_failures`` failed rounds
in a row the service raises :class:`ProduceFailed` and its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.messages import encode
from services.core.kafka import commit_owned
from services.core.metric_defs import PipelineMetrics
from services.core.pipeline import run_reader_and_sink
from services.decoder.convert import to_samples
from services.decoder.errors import ProduceFailed
from services.decoder.inflight import InFlight
from services.decoder.metric_defs import DecoderMetrics
from services.decoder.settings import DecoderSettings
from services.decoder.vectorized import VectorDecoder
from services.ingest.dlq import DeadLetter, DlqLimit

log = structlog.get_logger(__name__)
SERVICE = "decoder"
_DONE = object()


class DecoderService:
    """One decoder consumer. Build it, then ``await run(stop)``."""

    def __init__(
        self,
        settings: DecoderSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        metrics: PipelineMetrics,
        decoder_metrics: DecoderMetrics,
        decoder: VectorDecoder | None = None,
    ) -> None:
        self.s = settings
        self.consumer = consumer
        self.producer = producer
        self.metrics = metrics
        self.dm = decoder_metrics
        self.decoder = decoder or VectorDecoder()
        self.queue: asyncio.Queue[InFlight | object] = asyncio.Queue(settings.max_pending_batches)
        self.limit = DlqLimit(
            settings.dlq_max_ratio, settings.dlq_window, settings.dlq_max_consecutive
        )
        self.samples_out = 0
        self.metrics_port: int | None = None  # bound port of /metrics, once serving
        self.dead_lettered = 0
        # Where to seek back to per partition: the end of what was acknowledged.
        self._safe: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._generation = 0
        self._min_generation = 0
        self._rewind = False
        self._failures = 0
        self.finished = asyncio.Event()  # set when run() has returned or raised

    # ----------------------------------------------------------------- reader
    def _outcomes(self, records: list[Any]) -> list[tuple[bytes, bytes] | DeadLetter]:
        """Per record, in order: (key, PackSample JSON) or the dead letter it becomes."""
        out: list[tuple[bytes, bytes] | DeadLetter | None] = [None] * len(records)
        todo: list[int] = []
        for j, rec in enumerate(records):
            value = rec.value
            if not value:
                why = "no value (tombstone)" if value is None else "empty payload"
                out[j] = self._dead(rec, "empty_payload", why)
            elif len(value) > self.s.max_payload_bytes:
                out[j] = self._dead(rec, "oversized", f"{len(value)} bytes")
            else:
                todo.append(j)
        if todo:
            t0 = time.perf_counter()
            decoded = self.decoder.decode_payloads([records[j].value for j in todo])
            converted = to_samples(decoded, [records[j].timestamp for j in todo])
            for k, sample in converted.samples:
                out[todo[k]] = (sample.vehicle_id.encode(), encode(sample))
            for r in converted.rejected:
                out[todo[r.index]] = self._dead(records[todo[r.index]], r.reason, r.detail)
            self.dm.decode_seconds.observe(time.perf_counter() - t0)
        assert all(o is not None for o in out)
        return out  # type: ignore[return-value]

    @staticmethod
    def _dead(rec: Any, reason: str, detail: str) -> DeadLetter:
        return DeadLetter(rec.key, rec.value, reason, detail, rec.topic, rec.partition, rec.offset)

    async def _produce(self, fetched: dict[TopicPartition, list[Any]]) -> InFlight:
        batch = InFlight(self._generation)
        records: list[Any] = []
        for tp, recs in fetched.items():
            self._safe.setdefault(tp, recs[0].offset)
            batch.offsets[tp] = recs[-1].offset + 1
            records.extend(recs)
            self.metrics.messages_in.labels(SERVICE, tp.topic).inc(len(recs))
        batch.bundles = len(records)
        send = self.producer.send
        for outcome in self._outcomes(records):
            if isinstance(outcome, DeadLetter):
                # Counted before anything of this batch can commit.
                self.limit.record(True)
                batch.dead.append(outcome)
                batch.futures.append(
                    await send(self.s.dlq_topic, key=outcome.key, value=outcome.payload,
                               headers=outcome.headers(SERVICE))
                )  # fmt: skip
            else:
                self.limit.record(False)
                batch.samples += 1
                batch.futures.append(await send(self.s.out_topic, key=outcome[0], value=outcome[1]))
        return batch

    async def _enqueue(self, batch: InFlight) -> None:
        if not self.queue.full():
            self.queue.put_nowait(batch)
            return
        self.consumer.pause(*self.consumer.assignment())
        self.metrics.paused.labels(SERVICE).set(1)
        log.debug("backpressure_pause", pending=self.queue.qsize())
        try:
            await self.queue.put(batch)
        finally:
            self.consumer.resume(*self.consumer.assignment())
            self.metrics.paused.labels(SERVICE).set(0)

    def _seek_back(self) -> None:
        """Read again from the end of what was acknowledged (after a failed send)."""
        for tp in self.consumer.assignment():
            if tp in self._safe:
                self.consumer.seek(tp, self._safe[tp])
        self._generation += 1
        self._rewind = False
        log.warning("rewound_to_acknowledged", generation=self._generation)

    async def _read(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._rewind:
                self._seek_back()
            fetched = await self.consumer.getmany(
                timeout_ms=self.s.poll_timeout_ms, max_records=self.s.batch_max_bundles
            )
            fetched = {tp: recs for tp, recs in fetched.items() if recs}
            if fetched:
                await self._enqueue(await self._produce(fetched))
            self._update_lag()

    def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            committed = self._committed.get(tp)
            if high is None or committed is None:
                continue
            self.metrics.consumer_lag.labels(SERVICE, str(tp.partition)).set(
                max(0, high - committed)
            )

    # ------------------------------------------------------------------ acker
    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        committed = await commit_owned(
            self.consumer, offsets, retry_initial_s=self.s.retry_initial_s
        )
        self._committed.update(committed)

    def _count(self, batch: InFlight) -> None:
        self.samples_out += batch.samples
        self.dead_lettered += len(batch.dead)
        self.dm.samples_out.labels(self.s.out_topic).inc(batch.samples)
        for d in batch.dead:
            self.metrics.dlq_messages.labels(SERVICE, d.reason).inc()
        self.metrics.batch_latency.labels(SERVICE).observe(time.monotonic() - batch.opened_at)

    async def _failed(self, exc: KafkaError) -> None:
        self._failures += 1
        self.dm.produce_failures.inc()
        if self._failures >= self.s.max_produce_failures:
            raise ProduceFailed(f"{self._failures} produce rounds failed in a row") from exc
        log.warning("produce_failed_rewinding", error=repr(exc), failures=self._failures)
        # Everything read so far is stale; the reader seeks back before its next poll.
        self._min_generation = self._generation + 1
        self._rewind = True

    async def _ack_round(self, items: Iterable[InFlight | object]) -> bool:
        """Acknowledge ready batches in order, commit once; True when told to finish."""
        done = failed = False
        offsets: dict[TopicPartition, int] = {}
        acked: list[InFlight] = []
        for item in items:
            if item is _DONE:
                done = True
                continue
            assert isinstance(item, InFlight)
            if failed or item.generation < self._min_generation:
                await item.abandon()
                continue
            try:
                await item.acknowledged()
            except KafkaError as exc:
                await self._failed(exc)
                failed = True
                continue
            acked.append(item)
            offsets.update(item.offsets)
            self._safe.update((tp, o) for tp, o in item.offsets.items() if tp in self._safe)
        if offsets:
            await self._commit(offsets)
        for item in acked:
            self._count(item)
        if failed:
            await asyncio.sleep(
                min(self.s.retry_initial_s * 2 ** (self._failures - 1), self.s.retry_max_s)
            )
        elif acked:
            self._failures = 0
        return done

    async def _ack(self) -> None:
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                if await self._ack_round(items):
                    return
            finally:
                for _ in items:
                    self.queue.task_done()

    async def drain_before_revoke(self, revoked: set[TopicPartition]) -> None:
        """Commit what was produced from partitions about to be revoked."""
        try:
            await asyncio.wait_for(self.queue.join(), timeout=30)
        except TimeoutError:
            log.warning("revoke_drain_timeout", partitions=sorted(tp.partition for tp in revoked))
        for tp in revoked:
            self._safe.pop(tp, None)

    # ------------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then acknowledge and commit what was produced."""
        try:
            await run_reader_and_sink(
                self._read(stop), self._ack(), lambda: self.queue.put(_DONE), "decoder"
            )
        finally:
            self.finished.set()
