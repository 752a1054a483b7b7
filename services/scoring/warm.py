"""Warm start: after a restart or a rebalance, score the recent past again before going on.

The scorer's per-pack windows live in memory. A scoring process that takes
over a partition, after a restart or from a member that left, would start them
empty at the committed position: the models judge a pack only once it has
``SETTLE_S`` (30 minutes) of history, the cooling checks wait for the pump
to have run 15 minutes, and a partly failed pump's coolant rise must hold 15
more, so for half an hour and more a fault would go unseen.

On assignment the listener only pauses the partitions (rebalance callbacks
run while the member sends no heartbeats, so nothing slow happens there). The
service then calls :meth:`WarmStart.rewind` before its next fetch: each paused
partition whose committed position lies beyond what this process has scored
of it (a restart, a partition taken over) is rewound to ``warmup_s`` before
that position. The timestamp of the record just before the committed offset
is read, and the consumer seeks to the first offset at or after that time
less ``warmup_s`` (``offsets_for_times``), at most ``max_records`` back. Record
timestamps are the producers' clocks: for a stream produced live they follow
the buses'; a topic filled at once is one instant, replayed from its start.
The records between there and the committed offset are scored again to fill
the windows; their events and health rows were published before and are
dropped, and no offset below the committed one is ever committed. Because a
pack is scored on a fixed grid of its own clock, what the scorer says after
the warm-up is what it would have said without the restart, as far as the
replayed history reaches (``tests/integration/test_scoring_service.py``). A
partition this process keeps across a rebalance is resumed where it was.

Best effort: a partition whose rewind fails or times out (the timestamp
cannot be read, the broker has no offset for the time) starts cold at its
committed offset, as it did before, with a warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = structlog.get_logger(__name__)


class WarmStart(ConsumerRebalanceListener):  # type: ignore[misc]
    """Pauses assigned partitions, rewinds the new ones; ``until`` holds where each
    one's warm-up ends."""

    def __init__(
        self,
        bootstrap: str,
        warmup_s: float,
        *,
        max_records: int = 2_000_000,
        probe_timeout_ms: int = 3000,
        rewind_timeout_s: float = 30.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.warmup_ms = int(warmup_s * 1000)
        self.max_records = max_records
        self.probe_timeout_ms = probe_timeout_ms
        self.rewind_timeout_s = rewind_timeout_s
        self.consumer: AIOKafkaConsumer | None = None  # given before the consumer starts
        self.until: dict[TopicPartition, int] = {}
        self.pending: set[TopicPartition] = set()  # paused, waiting for rewind()
        # Per partition, the offset after the last record given to the scorer.
        self.scored_through: dict[TopicPartition, int] = {}
        self._generation = 0
        self._probe: AIOKafkaConsumer | None = None  # reads timestamps, for one rewind()

    def bind(self, consumer: AIOKafkaConsumer) -> None:
        """The consumer whose partitions this rewinds (given before it starts)."""
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        for tp in revoked:
            self.until.pop(tp, None)
            self.pending.discard(tp)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self._generation += 1
        if self.warmup_ms <= 0 or self.consumer is None or not assigned:
            return
        # Paused before anything else: the fetcher starts at the committed
        # offsets as soon as the assignment exists, and a record from there
        # scored before the warm-up would leave the windows' history out.
        self.consumer.pause(*assigned)
        self.pending |= set(assigned)

    async def rewind(self) -> None:
        """Rewind the paused partitions that need it, then resume them all."""
        consumer = self.consumer
        if consumer is None or not self.pending:
            return
        generation = self._generation
        todo = sorted(self.pending & consumer.assignment(), key=str)
        self.pending.clear()
        try:
            for tp in todo:
                try:
                    await asyncio.wait_for(self._rewind(consumer, tp), self.rewind_timeout_s)
                except Exception as exc:  # noqa: BLE001 - the fallback is a cold start
                    log.warning("scoring_warmup_skipped", topic=tp.topic, partition=tp.partition,
                                error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                    self.until.pop(tp, None)
        finally:
            if self._probe is not None:
                await self._probe.stop()
                self._probe = None
        if generation != self._generation:
            return  # reassigned meanwhile: the new assignment paused them again
        consumer.resume(*[tp for tp in todo if tp in consumer.assignment()])

    async def _rewind(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        """Seek ``tp`` back if this process has not scored up to its committed offset."""
        committed = await consumer.committed(tp)
        if not committed or self.scored_through.get(tp, -1) >= committed:
            return  # nothing consumed yet, or the windows are current
        ts = await self._timestamp_before(tp, committed)
        if ts is None:
            log.warning("scoring_warmup_skipped", topic=tp.topic, partition=tp.partition,
                        error="no record just before the committed offset")  # fmt: skip
            return
        found = await consumer.offsets_for_times({tp: max(0, ts - self.warmup_ms)})
        start = found.get(tp)
        if start is None or start.offset >= committed:
            return
        first = max(start.offset, committed - self.max_records)
        consumer.seek(tp, first)
        self.until[tp] = committed
        log.info("scoring_warmup", topic=tp.topic, partition=tp.partition,
                 from_offset=first, to_offset=committed)  # fmt: skip

    async def _timestamp_before(self, tp: TopicPartition, committed: int) -> int | None:
        """Timestamp (ms) of the record just before ``committed`` on ``tp``; None when
        there is none to read (a transaction marker there, or the log truncated)."""
        if self._probe is None:
            probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                     enable_auto_commit=False, auto_offset_reset="none",
                                     isolation_level="read_committed")  # fmt: skip
            try:
                await probe.start()
            except BaseException:
                await probe.stop()
                raise
            self._probe = probe
        self._probe.assign([tp])
        self._probe.seek(tp, committed - 1)
        batch = await self._probe.getmany(tp, timeout_ms=self.probe_timeout_ms, max_records=1)
        records = [m for m in batch.get(tp, []) if m.offset < committed]
        return int(records[-1].timestamp) if records else None

    def split(self, tp: TopicPartition, msgs: list[Any]) -> tuple[list[Any], list[Any], int | None]:
        """``msgs`` of ``tp`` as (warm-up, live, offset to commit or None)."""
        end = msgs[-1].offset + 1
        self.scored_through[tp] = max(end, self.scored_through.get(tp, -1))
        until = self.until.get(tp)
        if until is None:
            return [], msgs, end
        warm = [m for m in msgs if m.offset < until]
        live = msgs[len(warm) :]
        if end >= until:
            del self.until[tp]
        return warm, live, end if end > until else None
