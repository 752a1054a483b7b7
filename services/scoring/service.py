"""The scoring consumer: read → decode → score (worker thread) → emit → write → commit.

Contract of one batch (closed on ``batch_max_rows`` or ``batch_max_ms``):

1. decode each message as a PackSample; an undecodable one is counted and
   skipped (ingest dead-letters the same message with its reason); for
   vehicles new here (or back after a gap), start reading the stored
   insulation history the warm-up cannot replay (:mod:`services.scoring.history`);
2. score the batch in the single worker thread (numpy and onnxruntime release
   the GIL, and the event loop keeps the consumer's heartbeat going meanwhile);
3. send every AnomalyEvent (key = vehicle id) and wait for all acknowledgements;
4. upsert pack_health and commit the transaction;
5. only then commit the batch's offsets.

A crash between 3 and 5 replays the batch: the events carry the same
deterministic ids, pack_health upserts the same rows.

Records a partition's warm start replays (:mod:`services.scoring.warm`) are
scored first, in a pass of their own whose events and health rows are
dropped; their offsets are below the committed one and are not committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.messages import encode
from services.core.kafka import commit_owned
from services.core.metric_defs import PipelineMetrics
from services.scoring.history import History, insulation_history
from services.scoring.samples import ScoringSample, decode_scoring_samples
from services.scoring.scorer import PassResult, Scorer
from services.scoring.settings import ScoringSettings
from services.scoring.warm import WarmStart
from services.scoring.writer import write_health

log = structlog.get_logger(__name__)
SERVICE = "scoring"
#: A vehicle back after this long (vehicle time) without a sample here gets its
#: stored insulation history read again: a partition taken back after another
#: member held it, whose hours this process did not see.
HISTORY_GAP_S = 3600.0


class ScoringService:
    """One consumer of the scoring group; see the module docstring."""

    def __init__(
        self,
        settings: ScoringSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        pool: Any,
        scorer: Scorer,
        metrics: PipelineMetrics,
        stopping: Callable[[], bool],
        warm: WarmStart,
    ) -> None:
        self.settings, self.consumer, self.producer = settings, consumer, producer
        self.warm = warm
        self.pool, self.scorer, self.metrics = pool, scorer, metrics
        self.stopping = stopping
        # One worker: the scorer's state is not shared between threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring")
        self.events_sent = 0
        self.health_rows = 0
        self.samples_scored = 0
        self.samples_warmed = 0  # replayed by a warm start, results dropped
        self.undecodable = 0
        # The stored-history read in flight and the vehicles it is for (with their
        # first sample's time), and those waiting for the next one.
        self._history: asyncio.Task[History] | None = None
        self._history_for: dict[str, float] = {}
        self._history_wanted: dict[str, float] = {}
        # The warm-up series exist from the start: rate() needs a sample before the
        # first warm-up to see it whole, and a panel reads 0 rather than no data.
        metrics.warm_samples.labels(SERVICE)
        metrics.warming.labels(SERVICE).set(0)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        try:
            while not stop.is_set():
                self._show_warming()  # paused, waiting for their rewind
                await self.warm.rewind()  # partitions assigned since the last fetch
                batch = await self.consumer.getmany(
                    timeout_ms=self.settings.batch_max_ms, max_records=self.settings.batch_max_rows
                )
                if batch:
                    await self.process(batch)
        finally:
            if self._history is not None:
                self._history.cancel()
            self._executor.shutdown(wait=True)

    async def _seed_history(self, samples: list[ScoringSample]) -> None:
        """Stored insulation history for the scorer (:mod:`services.scoring.history`).

        Runs between passes, while the worker thread is idle. Starts a read for
        the vehicles of ``samples`` that need one (new to this process, or back
        after a gap) and waits up to ``history_wait_s`` for it: with a healthy
        database the history is merged before their samples are scored. A read
        that takes longer goes on beside the scoring (one at a time, until
        ``history_timeout_s``), so a slow or failing database delays no event
        for long, and its result is merged between later passes (a higher peak
        can raise a finding, and retract none).
        """
        self._merge_history()
        for vid, t in self.scorer.needs_history(samples, HISTORY_GAP_S).items():
            self._history_wanted[vid] = min(t, self._history_wanted.get(vid, t))
        if self._history is None and self._history_wanted:
            self._history_for, self._history_wanted = self._history_wanted, {}
            self._history = asyncio.create_task(self._read_history(self._history_for))
            await asyncio.wait({self._history}, timeout=self.settings.history_wait_s)
            self._merge_history()

    def _merge_history(self) -> None:
        """Hand a finished read's history to the scorer (or log why there is none)."""
        task = self._history
        if task is None or not task.done():
            return
        self._history = None
        try:
            history = task.result()
        except Exception as exc:  # noqa: BLE001 - best effort, as the warm-up
            log.warning("insulation_history_skipped", vehicles=len(self._history_for),
                        error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        else:
            for vid, (hours, values) in history.items():
                self.scorer.detector.seed_insulation(vid, hours, values)
            log.info("insulation_history", vehicles=len(self._history_for),
                     with_history=len(history))  # fmt: skip
        self._history_for = {}

    async def _read_history(self, first_ts: dict[str, float]) -> History:
        return await asyncio.wait_for(
            insulation_history(
                self.pool, first_ts, stopping=self.stopping,
                retry_initial_s=self.settings.retry_initial_s,
                retry_max_s=self.settings.retry_max_s,
            ),
            self.settings.history_timeout_s,
        )  # fmt: skip

    def _show_warming(self) -> None:
        """Partitions waiting for their rewind or still replaying, as the gauge."""
        self.metrics.warming.labels(SERVICE).set(len(self.warm.pending) + len(self.warm.until))

    async def process(self, batch: dict[TopicPartition, list[Any]]) -> PassResult:
        """Steps 1-5 of the module docstring for one fetched batch."""
        offsets: dict[TopicPartition, int] = {}
        warm: list[bytes] = []
        live: list[bytes] = []
        for tp, msgs in batch.items():
            self.metrics.messages_in.labels(SERVICE, tp.topic).inc(len(msgs))
            past, now, commit = self.warm.split(tp, msgs)
            warm += [m.value for m in past]
            live += [m.value for m in now]
            if commit is not None:
                offsets[tp] = commit
        loop = asyncio.get_running_loop()
        warmed, _ = decode_scoring_samples(warm) if warm else ([], 0)
        samples, undecodable = decode_scoring_samples(live)
        await self._seed_history([*warmed, *samples])
        if warmed:  # scored for the windows only: its results went out before the restart
            res = await loop.run_in_executor(self._executor, self.scorer.run_pass, warmed)
            self.samples_warmed += len(warmed)
            # What the replay scored: a partition replayed again after a rebalance
            # gives samples the windows already hold, which the scorer skips.
            self.metrics.warm_samples.labels(SERVICE).inc(res.scored)
        self._show_warming()
        self.undecodable += undecodable
        res = await loop.run_in_executor(self._executor, self.scorer.run_pass, samples)
        futures = [
            await self.producer.send(
                self.settings.anomalies_topic, encode(e), key=e.vehicle_id.encode()
            )
            for e in res.events
        ]
        if futures:
            await asyncio.gather(*futures)
        await write_health(
            self.pool,
            res.health,
            stopping=self.stopping,
            retry_initial_s=self.settings.retry_initial_s,
            retry_max_s=self.settings.retry_max_s,
        )
        self.metrics.rows_written.labels(SERVICE, "pack_health").inc(len(res.health))
        await commit_owned(self.consumer, offsets)
        self.events_sent += len(res.events)
        self.health_rows += len(res.health)
        self.samples_scored += res.scored
        for e in res.events:
            log.info("anomaly_event", vehicle_id=e.vehicle_id, kind=e.kind.value,
                     state=e.state.value, severity=e.severity.value,
                     sensor=e.sensor_index, cell=e.cell_index, event_id=e.event_id)  # fmt: skip
        return res
