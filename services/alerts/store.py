"""Alert rows and everything a change writes with them, inside the caller's transaction.

A change is durable as a unit: the alert row, its audit entry, its outbox
row (the ``pack.alerts.v1`` message) and its notification rows commit
together or not at all. Writers serialise per alert key with a transaction-
scoped advisory lock, so the consumer, the sweeper and the API never race on
one (vehicle, kind, location).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from schemas.common import AlertState, ConditionState, Severity
from schemas.messages import encode
from services.alerts import render
from services.alerts.lifecycle import RANK, Alert, Change

COLUMNS = """alert_id, vehicle_id, pack_id, depot_id, kind, location, cell_index, sensor_index,
    severity, state, version, opened_at, acknowledged_at, resolved_at, resolution_code,
    condition, condition_since, event_severity, severity_since, reopen_count, last_event_at,
    last_event_id, evidence"""

# The latest alert of a key: the live one if any, else the most recently opened.
LATEST_SQL = f"""SELECT {COLUMNS} FROM alerts
WHERE vehicle_id = $1 AND kind = $2 AND location = $3
ORDER BY (state IN ('open', 'acknowledged')) DESC, opened_at DESC LIMIT 1 FOR UPDATE"""

BY_ID_SQL = f"SELECT {COLUMNS} FROM alerts WHERE alert_id = $1 FOR UPDATE"

UPSERT_SQL = f"""INSERT INTO alerts ({COLUMNS}, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22, $23::jsonb, now())
ON CONFLICT (alert_id) DO UPDATE SET severity = EXCLUDED.severity, state = EXCLUDED.state,
    version = EXCLUDED.version, acknowledged_at = EXCLUDED.acknowledged_at,
    resolved_at = EXCLUDED.resolved_at, resolution_code = EXCLUDED.resolution_code,
    condition = EXCLUDED.condition, condition_since = EXCLUDED.condition_since,
    event_severity = EXCLUDED.event_severity, severity_since = EXCLUDED.severity_since,
    reopen_count = EXCLUDED.reopen_count, last_event_at = EXCLUDED.last_event_at,
    last_event_id = EXCLUDED.last_event_id, evidence = EXCLUDED.evidence,
    depot_id = EXCLUDED.depot_id, updated_at = now()"""

AUDIT_SQL = """INSERT INTO alert_audit (alert_id, version, at, actor, action, from_state,
    to_state, severity, comment, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)"""

OUTBOX_SQL = """INSERT INTO alert_outbox (idempotency_key, alert_id, vehicle_id, payload)
VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING"""

ROUTES_SQL = """SELECT route_id, min_severity, channel, format, target FROM alert_routes
WHERE enabled AND (depot_id IS NULL OR depot_id = $1) ORDER BY route_id"""

NOTIFY_SQL = """INSERT INTO alert_notifications (change_key, route_id, alert_id, channel, format,
    target, body) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (change_key, route_id) DO NOTHING"""

# The vehicle's depot, maintenance flag, and the sensor→cells map of its current pack.
VEHICLE_SQL = """SELECT v.depot_id, v.in_maintenance, d.sensor_cells FROM vehicles AS v
LEFT JOIN LATERAL (SELECT design_id FROM packs WHERE vehicle_id = v.vehicle_id
    AND removed_at IS NULL ORDER BY installed_at DESC NULLS LAST LIMIT 1) AS p ON true
LEFT JOIN pack_designs AS d ON d.design_id = p.design_id
WHERE v.vehicle_id = $1"""


@dataclass(frozen=True)
class Vehicle:
    """What the alert service needs to know of a vehicle."""

    depot_id: str | None
    in_maintenance: bool
    sensor_cells: list[list[int]] | None


def to_json(value: Any) -> str:
    """A JSONB parameter. Connections keep asyncpg's text codec for JSONB, so pools
    shared with other code (the API's) see the same types everywhere."""
    return json.dumps(value, separators=(",", ":"))


def from_json(value: Any) -> Any:
    """A JSONB column as a Python value."""
    return json.loads(value) if isinstance(value, str) else value


async def lock_key(conn: asyncpg.Connection, vehicle_id: str, kind: str, location: str) -> None:
    """Serialise writers of one alert key until the transaction ends."""
    key = f"alert:{vehicle_id}:{kind}:{location}"
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(
        alert_id=row["alert_id"],
        vehicle_id=row["vehicle_id"],
        pack_id=row["pack_id"],
        depot_id=row["depot_id"],
        kind=row["kind"],
        location=row["location"],
        cell_index=row["cell_index"],
        sensor_index=row["sensor_index"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        version=row["version"],
        opened_at=row["opened_at"],
        acknowledged_at=row["acknowledged_at"],
        resolved_at=row["resolved_at"],
        resolution_code=row["resolution_code"],
        condition=ConditionState(row["condition"]),
        condition_since=row["condition_since"] or row["opened_at"],
        event_severity=Severity(row["event_severity"] or row["severity"]),
        severity_since=row["severity_since"] or row["opened_at"],
        reopen_count=row["reopen_count"],
        last_event_at=row["last_event_at"],
        last_event_id=row["last_event_id"],
        evidence=dict(from_json(row["evidence"]) or {}),
    )


async def latest(
    conn: asyncpg.Connection, vehicle_id: str, kind: str, location: str
) -> Alert | None:
    """The key's latest alert, locked for update (call :func:`lock_key` first)."""
    row = await conn.fetchrow(LATEST_SQL, vehicle_id, kind, location)
    return _alert(row) if row is not None else None


async def by_id(conn: asyncpg.Connection, alert_id: uuid.UUID) -> Alert | None:
    """One alert, locked for update."""
    row = await conn.fetchrow(BY_ID_SQL, alert_id)
    return _alert(row) if row is not None else None


async def vehicle(conn: asyncpg.Connection, vehicle_id: str) -> Vehicle:
    """The vehicle's depot and maintenance flag; an unregistered vehicle still gets alerts."""
    row = await conn.fetchrow(VEHICLE_SQL, vehicle_id)
    if row is None:
        return Vehicle(None, False, None)
    cells = from_json(row["sensor_cells"])
    return Vehicle(row["depot_id"], bool(row["in_maintenance"]), cells if cells else None)


async def save(conn: asyncpg.Connection, a: Alert) -> None:
    """Insert or update the alert row."""
    await conn.execute(
        UPSERT_SQL,
        a.alert_id, a.vehicle_id, a.pack_id, a.depot_id, a.kind, a.location, a.cell_index,
        a.sensor_index, a.severity.value, a.state.value, a.version, a.opened_at,
        a.acknowledged_at, a.resolved_at, a.resolution_code, a.condition.value,
        a.condition_since, a.event_severity.value, a.severity_since, a.reopen_count,
        a.last_event_at, a.last_event_id, to_json(a.evidence),
    )  # fmt: skip


async def record(conn: asyncpg.Connection, change: Change, where: str, links: render.Links) -> int:
    """Write a change's alert row, audit entry, outbox row and notifications.

    Returns how many notifications it queued. Routes match on the alert's
    depot (or every depot) and a minimum severity; only changes marked
    ``notify`` (opened, re-opened, severity raised, escalated) notify.
    """
    a = change.after
    await save(conn, a)
    details = {"condition": a.condition.value, "reopen_count": a.reopen_count}
    if a.resolution_code:
        details["resolution_code"] = a.resolution_code
    await conn.execute(
        AUDIT_SQL,
        a.alert_id, a.version, change.at, change.actor, change.action,
        change.previous_state.value if change.previous_state else None, a.state.value,
        a.severity.value, change.comment, to_json(details),
    )  # fmt: skip
    await conn.execute(
        OUTBOX_SQL, change.idempotency_key, a.alert_id, a.vehicle_id, encode(change.message())
    )
    if not change.notify:
        return 0
    facts = render.facts(change, where, links)
    queued = 0
    for route in await conn.fetch(ROUTES_SQL, a.depot_id):
        if RANK[a.severity] < RANK[Severity(route["min_severity"])]:
            continue
        body = render.body_for(route["format"], facts, route["target"])
        await conn.execute(
            NOTIFY_SQL, change.idempotency_key, route["route_id"], a.alert_id,
            route["channel"], route["format"], route["target"], to_json(body),
        )  # fmt: skip
        queued += 1
    return queued
