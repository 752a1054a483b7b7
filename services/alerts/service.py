"""The alerts process: four loops over one pool, one producer and one consumer.

- *consume*: AnomalyEvents from Kafka → :class:`~services.alerts.apply.Applier`
  (one transaction per polled batch), then the batch's offsets are committed;
  an undecodable message goes to the dead-letter topic first;
- *sweep*: time-driven changes at the clock's ``now``;
- *relay*: the outbox to ``pack.alerts.v1``;
- *notify*: pending notifications to their channels.

Committing an offset only after the transaction makes input at-least-once;
the event-id key in ``alert_events`` makes its effect exactly-once. A loop
that meets an infrastructure failure waits and retries; anything else stops
the process loudly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from schemas.errors import MessageDecodeError
from schemas.events import AnomalyEvent
from schemas.messages import decode_anomaly_event
from services.alerts.apply import Applier, Clock
from services.alerts.faults import CrashPoint
from services.alerts.metric_defs import AlertMetrics
from services.alerts.notify import Notifier
from services.alerts.relay import Relay
from services.alerts.settings import AlertsSettings
from services.alerts.sweep import Sweeper
from services.core.errors import is_retriable
from services.ingest.dlq import DeadLetter

log = structlog.get_logger(__name__)
SERVICE = "alerts"


class AlertsService:
    """Build it with its parts, then ``await run(stop)``."""

    def __init__(
        self,
        settings: AlertsSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        applier: Applier,
        sweeper: Sweeper,
        relay: Relay,
        notifier: Notifier,
        clock: Clock,
        metrics: AlertMetrics,
    ) -> None:
        self.s = settings
        self.consumer = consumer
        self.producer = producer
        self.applier = applier
        self.sweeper = sweeper
        self.relay = relay
        self.notifier = notifier
        self.clock = clock
        self.metrics = metrics
        # Set after each committed batch, so the relay and notifier act at once
        # instead of on their next tick.
        self.crash_point = CrashPoint(settings.fault_kill_after_commits)
        self.relay_wake = asyncio.Event()
        self.notify_wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Run every loop until ``stop`` is set; a loop's fatal error stops them all."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume(stop))
            group.create_task(self._every(stop, "sweep", self.s.sweep_interval_s, self._sweep))
            group.create_task(
                self._every(stop, "relay", self.s.relay_interval_s, self.relay.run_once,
                            self.relay_wake)
            )  # fmt: skip
            group.create_task(
                self._every(stop, "notify", self.s.notify_interval_s, self.notifier.run_once,
                            self.notify_wake)
            )  # fmt: skip

    async def _sweep(self) -> int:
        now = self.clock.now()
        if now is None:  # the event clock before any event: nothing is due yet
            return 0
        made = await self.sweeper.run_once(now)
        if made:
            self.relay_wake.set()
            self.notify_wake.set()
        return made

    async def _every(
        self,
        stop: asyncio.Event,
        name: str,
        interval_s: float,
        step: Callable[[], Awaitable[int]],
        wake: asyncio.Event | None = None,
    ) -> None:
        """Run ``step`` until stopped: again at once while it finds work, else after a tick."""
        delay = self.s.retry_initial_s
        while not stop.is_set():
            try:
                did = await step()
                delay = self.s.retry_initial_s
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                log.warning("alerts_loop_retry", loop=name, error=repr(exc), wait_s=delay)
                await _wait_any(stop, None, delay)
                delay = min(delay * 2, self.s.retry_max_s)
                continue
            if not did:
                await _wait_any(stop, wake, interval_s)
                if wake is not None:
                    wake.clear()

    async def _consume(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=200, max_records=self.s.batch_max_events)
            if not batch:
                continue
            events: list[AnomalyEvent] = []
            offsets: dict[TopicPartition, int] = {}
            for tp, messages in batch.items():
                for m in messages:
                    self.metrics.pipeline.messages_in.labels(SERVICE, tp.topic).inc()
                    try:
                        events.append(decode_anomaly_event(m.value or b""))
                    except MessageDecodeError as exc:
                        await self._dead_letter(m, exc)
                offsets[tp] = messages[-1].offset + 1
            if not await self._apply(events, stop):
                return  # stopping with the batch unapplied: its offsets stay uncommitted
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # A rebalance took the partitions: the next owner re-reads the
                # batch, and the event ids make that a no-op.
                log.warning("alerts_commit_skipped", error=repr(exc))

    async def _apply(self, events: list[AnomalyEvent], stop: asyncio.Event) -> bool:
        delay = self.s.retry_initial_s
        while True:
            try:
                changed = bool(events) and await self.applier.apply(events) > 0
            except Exception as exc:
                if stop.is_set():
                    return False
                if not is_retriable(exc):
                    raise
                log.warning("alerts_apply_retry", error=repr(exc), wait_s=delay)
                await _wait_any(stop, None, delay)
                delay = min(delay * 2, self.s.retry_max_s)
                continue
            if changed:
                self.crash_point.committed()  # a failure test's kill lands here, before the send
                self.relay_wake.set()
                self.notify_wake.set()
            return True

    async def _dead_letter(self, message: Any, exc: MessageDecodeError) -> None:
        """Send an unreadable AnomalyEvent to the DLQ with where it came from and why."""
        letter = DeadLetter(
            key=message.key,
            value=message.value,
            reason=exc.reason_code.value,
            detail=exc.detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        )
        sent = await self.producer.send(
            self.s.dlq_topic, key=letter.key, value=letter.value, headers=letter.headers(SERVICE)
        )
        await sent
        self.metrics.pipeline.dlq_messages.labels(SERVICE, letter.reason).inc()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, timeout_s: float) -> None:
    """Sleep up to ``timeout_s``, waking early when ``stop`` or ``wake`` is set."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
