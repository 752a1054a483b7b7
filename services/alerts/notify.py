"""The notifier: pending notifications delivered with retries, backoff and a dead-letter state.

A pass claims due rows (``FOR UPDATE SKIP LOCKED``) and leases them by
moving ``next_attempt_at`` past the lease, so a second notifier never takes
them and a deliverer that dies mid-flight only delays them. Each claimed row
is delivered once; then:

- delivered → ``sent``;
- failed, attempts left → stays ``pending``, next attempt after an
  exponential backoff (with jitter) capped at ``backoff_max``;
- failed for good, or attempts used up → ``dead``, with the last error kept:
  visible in the alert's detail in the API and in a metric.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from services.alerts.channels import Channel
from services.alerts.errors import DeliveryError, PermanentDelivery
from services.alerts.metric_defs import AlertMetrics
from services.alerts.store import from_json

log = structlog.get_logger(__name__)

CLAIM_SQL = """UPDATE alert_notifications SET attempts = attempts + 1,
    next_attempt_at = now() + make_interval(secs => $2)
WHERE notification_id IN (SELECT notification_id FROM alert_notifications
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, notification_id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING notification_id, change_key, channel, target, body, attempts, created_at"""
# A delivery's outcome is written only to the row as its claim left it (still
# pending, same attempt): a delivery that outlived its lease must not overwrite
# what a later claim, or a requeue (services.alerts.requeue), did since.
_CLAIMED = "notification_id = $1 AND state = 'pending' AND attempts = $2"
SENT_SQL = f"""UPDATE alert_notifications SET state = 'sent', sent_at = now(), last_error = NULL
WHERE {_CLAIMED}"""
RETRY_SQL = f"""UPDATE alert_notifications SET last_error = $3,
    next_attempt_at = now() + make_interval(secs => $4) WHERE {_CLAIMED}"""
DEAD_SQL = f"UPDATE alert_notifications SET state = 'dead', last_error = $3 WHERE {_CLAIMED}"
DEAD_COUNT_SQL = "SELECT count(*) FROM alert_notifications WHERE state = 'dead'"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    initial_s: float = 1.0
    max_s: float = 300.0
    lease_s: float = 60.0

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling, capped, ±20 % jitter."""
        base = min(self.max_s, self.initial_s * 2 ** max(0, attempts - 1))
        return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


class Notifier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Mapping[str, Channel],
        retry: RetryPolicy,
        metrics: AlertMetrics,
        batch: int = 50,
    ) -> None:
        self.pool = pool
        self.channels = channels
        self.retry = retry
        self.metrics = metrics
        self.batch = batch

    async def run_once(self) -> int:
        """Deliver one batch of due notifications; returns how many were claimed."""
        rows = await self.pool.fetch(CLAIM_SQL, self.batch, self.retry.lease_s)
        if rows:
            # The batch is bounded by ``batch``: concurrency is bounded with it.
            await asyncio.gather(*(self._deliver(r) for r in rows))
            self.metrics.dead_notifications.set(await self.pool.fetchval(DEAD_COUNT_SQL))
        return len(rows)

    async def _deliver(self, row: asyncpg.Record) -> None:
        channel_name = row["channel"]
        channel = self.channels.get(channel_name)
        nid, attempts = row["notification_id"], row["attempts"]
        if channel is None:
            await self._dead(nid, attempts, channel_name, f"no channel {channel_name!r} configured")
            return
        try:
            await channel.deliver(row["target"], from_json(row["body"]), row["change_key"])
        except PermanentDelivery as exc:
            await self._dead(nid, attempts, channel_name, str(exc))
            return
        except DeliveryError as exc:
            if attempts >= self.retry.max_attempts:
                await self._dead(nid, attempts, channel_name, f"{exc} (after {attempts} attempts)")
                return
            await self.pool.execute(
                RETRY_SQL, nid, attempts, str(exc), self.retry.backoff(attempts)
            )
            self.metrics.deliveries.labels(channel_name, "retry").inc()
            return
        await self.pool.execute(SENT_SQL, nid, attempts)
        self.metrics.deliveries.labels(channel_name, "sent").inc()
        age = (datetime.now(UTC) - row["created_at"]).total_seconds()
        self.metrics.delivery_latency.labels(channel_name).observe(max(0.0, age))

    async def _dead(self, nid: int, attempts: int, channel: str, error: str) -> None:
        await self.pool.execute(DEAD_SQL, nid, attempts, error)
        self.metrics.deliveries.labels(channel, "dead").inc()
        log.error("notification_dead", notification_id=nid, channel=channel, error=error)
