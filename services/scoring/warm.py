"""Warm start: after a restart or a rebalance, score the recent past again before going on.

The scorer's per-pack windows live in memory. A scoring process that takes
over a partition, after a restart or from a member that left, would start them
empty at the committed position: the models judge a pack only once it has
``SETTLE_S`` (30 minutes) of history, and the cooling checks wait for the pump
to have run 15 minutes, so for half an hour a fault would go unseen.

On assignment, :class:`WarmStart` rewinds each partition new to this process
that has a committed position to ``warmup_s`` before it: it reads the
timestamp of the record just before the committed offset, and seeks to the
first offset at or after that time less ``warmup_s`` (``offsets_for_times``).
Record timestamps are the producers' clocks: for a stream produced live they
follow the buses', for a topic filled at once the whole topic is one instant
and the warm-up replays it from the start. The records between there and
the committed offset are scored again to fill the windows; their events and
health rows were published before and are dropped, and no offset below the
committed one is ever committed. Because a pack is scored on a fixed grid of
its own clock, what the scorer says after the warm-up is what it would have
said without the restart, as far as the replayed history reaches
(``tests/integration/test_scoring_service.py``). A partition this process held
before a rebalance keeps its windows and is not rewound.

Best effort: a partition whose rewind fails (the timestamp cannot be read,
the broker has no offset for the time) starts cold at its committed offset,
as it did before, with a warning.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = structlog.get_logger(__name__)


class WarmStart(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rewinds assigned partitions; ``until`` holds where each one's warm-up ends."""

    def __init__(self, bootstrap: str, warmup_s: float, probe_timeout_ms: int = 3000) -> None:
        self.bootstrap = bootstrap
        self.warmup_ms = int(warmup_s * 1000)
        self.probe_timeout_ms = probe_timeout_ms
        self.consumer: AIOKafkaConsumer | None = None  # set once the consumer exists
        self.until: dict[TopicPartition, int] = {}
        self._held: set[TopicPartition] = set()
        self._probe: AIOKafkaConsumer | None = None

    def bind(self, consumer: AIOKafkaConsumer) -> None:
        """The consumer whose partitions this rewinds (given before it starts)."""
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        for tp in revoked:
            self.until.pop(tp, None)
        # A rebalance revokes every partition and assigns them again: those this
        # process keeps have their windows here already, and go on where they were.
        self._held = set(revoked)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        consumer = self.consumer
        new = [tp for tp in assigned if tp not in self._held]
        if self.warmup_ms <= 0 or consumer is None or not new:
            return
        # Paused before the first await: the fetcher starts at the committed
        # offsets as soon as the assignment exists, and a record from there
        # scored before the warm-up would leave the windows' history out.
        consumer.pause(*new)
        try:
            for tp in new:
                try:
                    await self._rewind(consumer, tp)
                except Exception as exc:  # noqa: BLE001 - the fallback is a cold start
                    log.warning("scoring_warmup_skipped", topic=tp.topic, partition=tp.partition,
                                error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        finally:
            consumer.resume(*new)

    async def _rewind(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        committed = await consumer.committed(tp)
        if not committed:
            return  # a new group, or nothing consumed yet: nothing to warm up from
        ts = await self._timestamp_before(tp, committed)
        if ts is None:
            log.warning("scoring_warmup_skipped", topic=tp.topic, partition=tp.partition,
                        error="no record before the committed offset")  # fmt: skip
            return
        found = await consumer.offsets_for_times({tp: max(0, ts - self.warmup_ms)})
        start = found.get(tp)
        if start is None or start.offset >= committed:
            return
        consumer.seek(tp, start.offset)
        self.until[tp] = committed
        log.info("scoring_warmup", topic=tp.topic, partition=tp.partition,
                 from_offset=start.offset, to_offset=committed)  # fmt: skip

    async def _timestamp_before(self, tp: TopicPartition, committed: int) -> int | None:
        """Timestamp (ms) of the last record before ``committed`` on ``tp``."""
        probe = await self._prober()
        probe.assign([tp])
        probe.seek(tp, max(0, committed - 1))
        batch = await probe.getmany(tp, timeout_ms=self.probe_timeout_ms, max_records=1)
        records = [m for m in batch.get(tp, []) if m.offset < committed]
        if not records:  # a transaction marker there: look a little further back
            probe.seek(tp, max(0, committed - 100))
            batch = await probe.getmany(tp, timeout_ms=self.probe_timeout_ms, max_records=100)
            records = [m for m in batch.get(tp, []) if m.offset < committed]
        return int(records[-1].timestamp) if records else None

    async def _prober(self) -> AIOKafkaConsumer:
        if self._probe is None:
            probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                     enable_auto_commit=False,
                                     isolation_level="read_committed")  # fmt: skip
            await probe.start()
            self._probe = probe
        return self._probe

    async def close(self) -> None:
        if self._probe is not None:
            await self._probe.stop()
            self._probe = None

    def split(self, tp: TopicPartition, msgs: list[Any]) -> tuple[list[Any], list[Any], int | None]:
        """``msgs`` of ``tp`` as (warm-up, live, offset to commit or None)."""
        until = self.until.get(tp)
        if until is None:
            return [], msgs, msgs[-1].offset + 1
        warm = [m for m in msgs if m.offset < until]
        live = msgs[len(warm) :]
        end = msgs[-1].offset + 1
        if end >= until:
            del self.until[tp]
        return warm, live, end if end > until else None
