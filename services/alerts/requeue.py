"""Dead notifications, listed and sent again once their receiver is fixed.

    packwatch alert-notifications dead [--route R]
    packwatch alert-notifications requeue (ID ... | --all) [--route R]

A notification dies when its receiver refused it for good or its attempts ran
out (:mod:`services.alerts.notify`). Once the receiver is back, or its route
points somewhere that works (``packwatch alert-routes add`` with the same id),
``requeue`` puts the dead ones back in the queue: attempts start again from
zero, the target is taken from the route as it is now (an e-mail's recorded
recipient with it), and the notifier
delivers them with the same idempotency key as before (a receiver that did
get one deduplicates it). The last error stays until a delivery succeeds.

A notification is only sent again through a route that still exists, is
enabled, still has the channel and format its stored body was rendered for,
and still covers its alert's depot and severity; anything else is skipped with
the reason. A requeued notification's delivery latency (metric) still counts
from when it was first queued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

DEAD_SQL = """SELECT notification_id, route_id, alert_id, channel, format, target, attempts,
    last_error, created_at FROM alert_notifications
WHERE state = 'dead' AND ($1::text IS NULL OR route_id = $1) ORDER BY notification_id"""

# Every selected notification with what decides whether it may go again: its
# route as it is now, and the depot and severity of its alert (routes match on
# those, services.alerts.store).
CANDIDATES_SQL = """SELECT n.notification_id, n.state, n.route_id, n.channel, n.format,
    r.route_id IS NOT NULL AS route_exists, r.enabled, r.channel AS route_channel,
    r.format AS route_format, r.depot_id AS route_depot, r.min_severity,
    a.depot_id, a.severity
FROM alert_notifications AS n
    LEFT JOIN alert_routes AS r ON r.route_id = n.route_id
    LEFT JOIN alerts AS a ON a.alert_id = n.alert_id
WHERE ($1::bigint[] IS NULL OR n.notification_id = ANY($1::bigint[]))
    AND ($1::bigint[] IS NOT NULL OR n.state = 'dead')
    AND ($2::text IS NULL OR n.route_id = $2)
ORDER BY n.notification_id"""

# The routes of those notifications, held unchanged until the requeue commits.
LOCK_ROUTES_SQL = "SELECT 1 FROM alert_routes WHERE route_id = ANY($1::text[]) FOR SHARE"

# An e-mail's stored body names its recipient: it follows the target.
REQUEUE_SQL = """UPDATE alert_notifications AS n SET state = 'pending', attempts = 0,
    next_attempt_at = now(), target = r.target,
    body = CASE WHEN n.format = 'email' THEN jsonb_set(n.body, '{to}', to_jsonb(r.target))
                ELSE n.body END
FROM alert_routes AS r
WHERE n.notification_id = ANY($1::bigint[]) AND n.state = 'dead' AND r.route_id = n.route_id
RETURNING n.notification_id"""

_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass
class RequeueResult:
    requeued: list[int]
    skipped: list[tuple[int, str]]  # (notification id, why)
    unknown: list[int]  # ids asked for that do not exist (on the route, when one is given)


async def dead(conn: asyncpg.Connection, route_id: str | None = None) -> list[dict[str, Any]]:
    """Dead notifications, oldest first (of one route when ``route_id`` is given)."""
    return [dict(r) for r in await conn.fetch(DEAD_SQL, route_id)]


def _why_not(row: asyncpg.Record) -> str | None:
    """Why this notification may not go again through its route as it is now; None if it may."""
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
    if row["route_depot"] is not None and row["route_depot"] != row["depot_id"]:
        depots = (row["route_depot"], row["depot_id"])
        return "its route now covers depot {} only, the alert is of {}".format(*depots)
    if row["severity"] is not None and _RANK[row["severity"]] < _RANK[row["min_severity"]]:
        return (
            f"its route now takes {row['min_severity']} and above, the alert is {row['severity']}"
        )
    return None


async def requeue(
    conn: asyncpg.Connection, ids: list[int] | None, route_id: str | None = None
) -> RequeueResult:
    """Put dead notifications back in the queue: ``ids``, or every dead one when None.

    The notifications and their routes are locked while they are checked and
    requeued, so a route changed meanwhile is seen as it is when this commits.
    """
    async with conn.transaction():
        locked = await conn.fetch(CANDIDATES_SQL + " FOR UPDATE OF n", ids, route_id)
        await conn.execute(LOCK_ROUTES_SQL, sorted({r["route_id"] for r in locked}))
        rows = await conn.fetch(CANDIDATES_SQL, ids, route_id)
        verdicts = [(r["notification_id"], _why_not(r)) for r in rows]
        ready = [nid for nid, why in verdicts if why is None]
        done = (
            {r["notification_id"] for r in await conn.fetch(REQUEUE_SQL, ready)} if ready else set()
        )
    skipped = [(nid, why) for nid, why in verdicts if why is not None]
    skipped += [(nid, "changed while it was requeued") for nid in ready if nid not in done]
    found = {r["notification_id"] for r in rows}
    unknown = [] if ids is None else [i for i in ids if i not in found]
    return RequeueResult(sorted(done), sorted(skipped), unknown)


def describe(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)
