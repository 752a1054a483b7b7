"""Time-driven changes: auto-resolution after a cleared condition, escalation when unacknowledged.

Each pass finds the alerts due at the clock's ``now`` and changes each in its
own transaction, under the alert key's lock, after reading it again: a change
made meanwhile by an event or a person is seen, never overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from schemas.common import Severity
from services.alerts import render, store
from services.alerts.lifecycle import Policy, sweep
from services.alerts.metric_defs import AlertMetrics

# Live alerts whose condition cleared long enough ago, or open alerts at a
# severity held long enough (vehicles in maintenance do not escalate).
DUE_SQL = """SELECT a.alert_id, a.vehicle_id, a.kind, a.location FROM alerts AS a
LEFT JOIN vehicles AS v ON v.vehicle_id = a.vehicle_id
WHERE a.state IN ('open', 'acknowledged') AND (
    (a.condition = 'cleared' AND a.condition_since <= $1)
    OR (a.state = 'open' AND NOT coalesce(v.in_maintenance, false) AND (
        (a.severity = 'info' AND a.severity_since <= $2)
        OR (a.severity = 'warning' AND a.severity_since <= $3))))
ORDER BY a.alert_id LIMIT $4"""


class Sweeper:
    """One pass at a time over the alerts due; see the module contract."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: Policy,
        links: render.Links,
        metrics: AlertMetrics,
        batch: int = 500,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.links = links
        self.metrics = metrics
        self.batch = batch

    async def run_once(self, now: datetime) -> int:
        """Apply every change due at ``now``; returns how many were made."""
        esc = self.policy.escalate_after
        # A severity without a limit never escalates: no severity_since is that old.
        never = datetime.min.replace(tzinfo=UTC)
        due = await self.pool.fetch(
            DUE_SQL,
            now - self.policy.auto_resolve_after,
            now - esc[Severity.INFO] if Severity.INFO in esc else never,
            now - esc[Severity.WARNING] if Severity.WARNING in esc else never,
            self.batch,
        )
        made = 0
        for row in due:
            made += await self._one(row, now)
        return made

    async def _one(self, row: asyncpg.Record, now: datetime) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_key(conn, row["vehicle_id"], row["kind"], row["location"])
            alert = await store.by_id(conn, row["alert_id"])
            if alert is None:
                return 0
            vehicle = await store.vehicle(conn, alert.vehicle_id)
            change = sweep(alert, now, self.policy, vehicle.in_maintenance)
            if change is None:
                return 0
            where = render.position(alert.location, vehicle.sensor_cells)
            await store.record(conn, change, where, self.links)
        self.metrics.changes.labels(change.action).inc()
        return 1
