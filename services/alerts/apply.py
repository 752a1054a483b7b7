"""Applying AnomalyEvents to the store: dedupe, suppress, decide, record — one transaction.

Contract of :meth:`Applier.apply`: the events of one batch are applied in
order inside one transaction; when it returns, every effect (alert rows,
audit, outbox, notifications, the events themselves) is committed. An event
whose ``event_id`` was applied before — a replay, or a duplicate within the
batch — changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from schemas.common import ConditionState
from schemas.events import AnomalyEvent
from services.alerts import render, store
from services.alerts.lifecycle import LIVE, Policy, location_of, on_event
from services.alerts.metric_defs import AlertMetrics

EVENT_SQL = """INSERT INTO alert_events (event_id, vehicle_id, ts, kind, severity, condition,
    score, evidence, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'pending')
ON CONFLICT (event_id) DO NOTHING RETURNING true"""

OUTCOME_SQL = "UPDATE alert_events SET outcome = $2, alert_id = $3 WHERE event_id = $1"


class Clock:
    """``now`` for time-driven changes: the wall clock, or the newest event time seen.

    The event clock lets a replay (or a test) drive auto-resolution and
    escalation by event timestamps rather than by waiting. Until it has seen an
    event it has no time at all (``None``): nothing is due by it yet, and the
    wall clock in its place would make every alert of a replay overdue the
    moment the first one is stored.
    """

    def __init__(self, mode: str = "wall") -> None:
        self.mode = mode
        self._latest: datetime | None = None

    def observe(self, ts: datetime) -> None:
        if self._latest is None or ts > self._latest:
            self._latest = ts

    def now(self) -> datetime | None:
        if self.mode == "event":
            return self._latest
        return datetime.now(UTC)


class Applier:
    """Applies batches of AnomalyEvents; shared by the consumer, tests and the benchmark."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: Policy,
        links: render.Links,
        metrics: AlertMetrics,
        clock: Clock,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.links = links
        self.metrics = metrics
        self.clock = clock

    async def apply(self, events: Sequence[AnomalyEvent]) -> int:
        """Apply ``events`` in one transaction; returns how many lifecycle changes they made."""
        changes = 0
        outcomes: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for ev in events:
                outcome, n = await self._apply_one(conn, ev)
                outcomes.append(outcome)
                changes += n
        for ev, outcome in zip(events, outcomes, strict=True):
            self.clock.observe(ev.ts)
            self.metrics.events.labels(outcome).inc()
        return changes

    async def _apply_one(self, conn: asyncpg.Connection, ev: AnomalyEvent) -> tuple[str, int]:
        location = location_of(ev.cell_index, ev.sensor_index)
        await store.lock_key(conn, ev.vehicle_id, ev.kind.value, location)
        fresh = await conn.fetchval(
            EVENT_SQL, ev.event_id, ev.vehicle_id, ev.ts, ev.kind.value, ev.severity.value,
            ev.state.value, ev.score, store.to_json(ev.evidence),
        )  # fmt: skip
        if not fresh:
            return "duplicate", 0
        vehicle = await store.vehicle(conn, ev.vehicle_id)
        alert = await store.latest(conn, ev.vehicle_id, ev.kind.value, location)
        live = alert is not None and alert.state in LIVE
        if vehicle.in_maintenance and not live and ev.state is ConditionState.ACTIVE:
            # In the workshop: the event is kept, but nobody is paged for it.
            await conn.execute(OUTCOME_SQL, ev.event_id, "suppressed", None)
            return "suppressed", 0
        decision = on_event(alert, ev, self.policy, vehicle.depot_id)
        where = render.position(location, vehicle.sensor_cells)
        for change in decision.changes:
            quiet = replace(change, notify=False) if vehicle.in_maintenance else change
            await store.record(conn, quiet, where, self.links)
            self.metrics.changes.labels(change.action).inc()
        last = decision.changes[-1].after if decision.changes else None
        if decision.alert is not None and decision.touched and decision.alert != last:
            await store.save(conn, decision.alert)
        alert_id = decision.alert.alert_id if decision.alert is not None else None
        await conn.execute(OUTCOME_SQL, ev.event_id, decision.outcome, alert_id)
        return decision.outcome, len(decision.changes)
