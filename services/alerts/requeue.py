"""Dead notifications, listed and sent again once their receiver is fixed.

    packwatch alert-notifications dead [--route R]
    packwatch alert-notifications requeue (ID ... | --all) [--route R]

A notification dies when its receiver refused it for good or its attempts ran
out (:mod:`services.alerts.notify`). Once the receiver is back, or its route
points somewhere that works (``packwatch alert-routes add`` with the same id),
``requeue`` puts the dead ones back in the queue: attempts start again from
zero, the target is taken from the route as it is now, and the notifier
delivers them with the same idempotency key as before (a receiver that did
get one deduplicates it). The last error stays until a delivery succeeds.

A notification is only sent again through a route that still exists, is
enabled, and still has the channel and format its stored body was rendered
for; anything else is skipped with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

DEAD_SQL = """SELECT notification_id, route_id, alert_id, channel, format, target, attempts,
    last_error, created_at FROM alert_notifications
WHERE state = 'dead' AND ($1::text IS NULL OR route_id = $1) ORDER BY notification_id"""

# Every selected notification with what decides whether it may go again.
CANDIDATES_SQL = """SELECT n.notification_id, n.state, n.channel, n.format,
    r.route_id IS NOT NULL AS route_exists, r.enabled, r.channel AS route_channel,
    r.format AS route_format
FROM alert_notifications AS n LEFT JOIN alert_routes AS r ON r.route_id = n.route_id
WHERE ($1::bigint[] IS NULL OR n.notification_id = ANY($1::bigint[]))
    AND ($1::bigint[] IS NOT NULL OR n.state = 'dead')
    AND ($2::text IS NULL OR n.route_id = $2)
ORDER BY n.notification_id"""

REQUEUE_SQL = """UPDATE alert_notifications AS n SET state = 'pending', attempts = 0,
    next_attempt_at = now(), target = r.target
FROM alert_routes AS r
WHERE n.notification_id = ANY($1::bigint[]) AND n.state = 'dead' AND r.route_id = n.route_id
    AND r.enabled AND r.channel = n.channel AND r.format = n.format
RETURNING n.notification_id"""


@dataclass
class RequeueResult:
    requeued: list[int]
    skipped: list[tuple[int, str]]  # (notification id, why)
    unknown: list[int]  # ids asked for that do not exist


async def dead(conn: asyncpg.Connection, route_id: str | None = None) -> list[dict[str, Any]]:
    """Dead notifications, oldest first (of one route when ``route_id`` is given)."""
    return [dict(r) for r in await conn.fetch(DEAD_SQL, route_id)]


def _why_not(row: asyncpg.Record) -> str | None:
    if row["state"] != "dead":
        return f"not dead (state {row['state']})"
    if not row["route_exists"]:
        return "its route was removed"
    if not row["enabled"]:
        return "its route is disabled"
    if (row["route_channel"], row["route_format"]) != (row["channel"], row["format"]):
        return (
            f"its route now sends {row['route_channel']}/{row['route_format']}, the stored "
            f"message is {row['channel']}/{row['format']}"
        )
    return None


async def requeue(
    conn: asyncpg.Connection, ids: list[int] | None, route_id: str | None = None
) -> RequeueResult:
    """Put dead notifications back in the queue: ``ids``, or every dead one when None."""
    async with conn.transaction():
        rows = await conn.fetch(CANDIDATES_SQL + " FOR UPDATE OF n", ids, route_id)
        skipped = [(r["notification_id"], why) for r in rows if (why := _why_not(r)) is not None]
        ready = [r["notification_id"] for r in rows if _why_not(r) is None]
        done = [r["notification_id"] for r in await conn.fetch(REQUEUE_SQL, ready)] if ready else []
    found = {r["notification_id"] for r in rows}
    unknown = [] if ids is None else [i for i in ids if i not in found]
    return RequeueResult(sorted(done), skipped, unknown)


def describe(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)
