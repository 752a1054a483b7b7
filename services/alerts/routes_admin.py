"""The routing table: which depots' alerts of which severity go to which receiver.

    packwatch alert-routes add ROUTE_ID --webhook URL [--format json|slack|teams]
                                        | --email ADDRESS
                                        [--depot D] [--min-severity info|warning|critical]
    packwatch alert-routes list [--json]
    packwatch alert-routes remove ROUTE_ID

A route without ``--depot`` receives every depot's alerts. Re-adding an
existing id replaces the route.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

UPSERT_SQL = """INSERT INTO alert_routes (route_id, depot_id, min_severity, channel, format, target)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (route_id) DO UPDATE SET depot_id = EXCLUDED.depot_id,
    min_severity = EXCLUDED.min_severity, channel = EXCLUDED.channel, format = EXCLUDED.format,
    target = EXCLUDED.target, enabled = true"""


@dataclass(frozen=True)
class Route:
    route_id: str
    channel: str  # webhook | email
    format: str  # json | slack | teams | email
    target: str
    depot_id: str | None = None
    min_severity: str = "warning"


async def add(conn: asyncpg.Connection, route: Route) -> None:
    """Create or replace a route; raises ``ValueError`` for an unknown depot or a bad shape."""
    if route.channel == "email" and route.format != "email":
        raise ValueError("an e-mail route has format 'email'")
    if route.channel == "webhook" and route.format not in ("json", "slack", "teams"):
        raise ValueError("a webhook route has format json, slack or teams")
    if route.channel == "webhook" and not route.target.startswith(("http://", "https://")):
        raise ValueError("a webhook target is an http(s) URL")
    if route.depot_id is not None and not await conn.fetchval(
        "SELECT true FROM depots WHERE depot_id = $1", route.depot_id
    ):
        raise ValueError(f"unknown depot {route.depot_id}")
    await conn.execute(
        UPSERT_SQL, route.route_id, route.depot_id, route.min_severity, route.channel,
        route.format, route.target,
    )  # fmt: skip


async def remove(conn: asyncpg.Connection, route_id: str) -> bool:
    result = await conn.execute("DELETE FROM alert_routes WHERE route_id = $1", route_id)
    return bool(result.endswith(" 1"))


async def list_routes(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT route_id, depot_id, min_severity, channel, format, target, enabled
        FROM alert_routes ORDER BY route_id"""
    )
    return [dict(r) for r in rows]


def describe(r: dict[str, Any]) -> str:
    return json.dumps(r, sort_keys=True, default=str)
