"""Alerts: list and filter, one alert with its events and audit trail, acknowledge, resolve.

Reading needs ``alerts:read`` (every role); acting needs ``alerts:write``
(maintenance and admin). Depot scope applies as everywhere: an alert of a
vehicle outside the token's depots answers 404, like one that does not exist.
A change made here is written with its audit entry and its ``pack.alerts.v1``
outbox row in one transaction; the alerts service's relay publishes it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.alerts import render, store
from services.alerts.lifecycle import InvalidTransition, acknowledge, resolve
from services.api.auth import AlertReader, AlertWriter, Pool
from services.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, NotFound
from services.api.params import DepotFilter, Limit, Offset
from services.api.tokens import Principal

router = APIRouter(
    prefix="/v1",
    tags=["alerts"],
    responses={**ERROR_RESPONSES, 409: {"model": ErrorBody, "description": "Not in that state"}},
)


class Conflict(ApiError):
    status = 409
    code = "conflict"


ResolutionCode = Literal[
    "repaired", "part_replaced", "sensor_replaced", "no_fault_found", "false_positive", "other"
]
AlertId = Annotated[uuid.UUID, Path(description="Alert id")]


class AlertPublic(BaseModel):
    alert_id: uuid.UUID
    vehicle_id: str
    pack_id: str | None
    depot_id: str | None
    kind: str
    location: str
    cell_index: int | None
    sensor_index: int | None
    severity: str
    state: str
    version: int
    condition: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_code: str | None
    reopen_count: int
    last_event_at: datetime
    evidence: dict[str, Any]


class AlertList(BaseModel):
    items: list[AlertPublic]
    limit: int
    offset: int


class EventPublic(BaseModel):
    event_id: str
    ts: datetime
    severity: str
    condition: str
    score: float | None
    outcome: str
    evidence: dict[str, Any]


class AuditPublic(BaseModel):
    version: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str
    severity: str
    comment: str | None


class NotificationPublic(BaseModel):
    route_id: str
    channel: str
    state: str = Field(description="pending, sent, or dead (gave up: see last_error)")
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class AlertDetail(BaseModel):
    alert: AlertPublic
    events: list[EventPublic]
    audit: list[AuditPublic]
    notifications: list[NotificationPublic]


class AcknowledgeBody(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


class ResolveBody(BaseModel):
    resolution_code: ResolutionCode
    comment: str | None = Field(default=None, max_length=2000)


COLUMNS = """a.alert_id, a.vehicle_id, a.pack_id, v.depot_id, a.kind, a.location, a.cell_index,
    a.sensor_index, a.severity, a.state, a.version, a.condition, a.opened_at, a.acknowledged_at,
    a.resolved_at, a.resolution_code, a.reopen_count, a.last_event_at, a.evidence"""
SCOPE = "($1::text[] IS NULL OR v.depot_id = ANY($1::text[]))"
LIST_SQL = f"""SELECT {COLUMNS} FROM alerts AS a JOIN vehicles AS v ON v.vehicle_id = a.vehicle_id
WHERE {SCOPE} AND ($2::text IS NULL OR a.state = $2) AND ($3::text IS NULL OR a.severity = $3)
  AND ($4::text IS NULL OR v.depot_id = $4) AND ($5::text IS NULL OR a.vehicle_id = $5)
  AND ($6::text IS NULL OR a.kind = $6) AND ($7::timestamptz IS NULL OR a.opened_at >= $7)
  AND ($8::timestamptz IS NULL OR a.opened_at < $8)
ORDER BY a.opened_at DESC, a.alert_id LIMIT $9 OFFSET $10"""
ONE_SQL = f"""SELECT {COLUMNS} FROM alerts AS a JOIN vehicles AS v ON v.vehicle_id = a.vehicle_id
WHERE {SCOPE} AND a.alert_id = $2"""
EVENTS_SQL = """SELECT event_id, ts, severity, condition, score, outcome, evidence FROM alert_events
WHERE alert_id = $1 ORDER BY ts DESC LIMIT 200"""
AUDIT_SQL = """SELECT version, at, actor, action, from_state, to_state, severity, comment
FROM alert_audit WHERE alert_id = $1 ORDER BY version"""
NOTIFICATIONS_SQL = """SELECT route_id, channel, state, attempts, last_error, created_at, sent_at
FROM alert_notifications WHERE alert_id = $1 ORDER BY notification_id"""

StateFilter = Annotated[
    Literal["open", "acknowledged", "resolved", "auto_resolved"] | None, Query()
]
SeverityFilter = Annotated[Literal["info", "warning", "critical"] | None, Query()]
VehicleFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
KindFilter = Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")]


def _row(r: Any) -> dict[str, Any]:
    out = dict(r)
    out["evidence"] = store.from_json(out["evidence"]) or {}
    return out


@router.get("/alerts", response_model=AlertList, summary="Alerts, filtered, newest first")
async def list_alerts(
    principal: AlertReader,
    pool: Pool,
    state: StateFilter = None,
    severity: SeverityFilter = None,
    depot: DepotFilter = None,
    vehicle: VehicleFilter = None,
    kind: KindFilter = None,
    opened_from: Annotated[AwareDatetime | None, Query(description="opened at or after")] = None,
    opened_to: Annotated[AwareDatetime | None, Query(description="opened before")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            LIST_SQL, principal.depot_list, state, severity, depot, vehicle, kind,
            opened_from, opened_to, limit, offset,
        )  # fmt: skip
    return {"items": [_row(r) for r in rows], "limit": limit, "offset": offset}


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="One alert, its history")
async def get_alert(alert_id: AlertId, principal: AlertReader, pool: Pool) -> dict[str, Any]:
    """The alert with its events (newest 200), audit trail and notification states."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(ONE_SQL, principal.depot_list, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        events = [_row(r) for r in await conn.fetch(EVENTS_SQL, alert_id)]
        audit = [dict(r) for r in await conn.fetch(AUDIT_SQL, alert_id)]
        notes = [dict(r) for r in await conn.fetch(NOTIFICATIONS_SQL, alert_id)]
    return {"alert": _row(row), "events": events, "audit": audit, "notifications": notes}


def actor_of(principal: Principal) -> str:
    """Who acted, as the audit trail and the message name them."""
    return f"token:{principal.token_id}"


async def _act(pool: Any, principal: Principal, alert_id: uuid.UUID, action: Any) -> dict[str, Any]:
    async with pool.acquire() as conn:
        async with conn.transaction():
            if await conn.fetchrow(ONE_SQL, principal.depot_list, alert_id) is None:
                raise NotFound(f"no alert {alert_id}")
            alert = await store.by_id(conn, alert_id)
            assert alert is not None
            await store.lock_key(conn, alert.vehicle_id, alert.kind, alert.location)
            alert = await store.by_id(conn, alert_id)
            assert alert is not None
            try:
                change = action(alert)
            except InvalidTransition as exc:
                raise Conflict(str(exc)) from exc
            links = render.Links("")
            await store.record(conn, change, render.position(alert.location, None), links)
        row = await conn.fetchrow(ONE_SQL, principal.depot_list, alert_id)
    return _row(row)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPublic, summary="Seen, on it")
async def acknowledge_alert(
    alert_id: AlertId, body: AcknowledgeBody, principal: AlertWriter, pool: Pool
) -> dict[str, Any]:
    """open → acknowledged (409 from any other state); stops escalation."""
    now = datetime.now(UTC)
    return await _act(
        pool, principal, alert_id, lambda a: acknowledge(a, actor_of(principal), now, body.comment)
    )


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPublic, summary="Fixed")
async def resolve_alert(
    alert_id: AlertId, body: ResolveBody, principal: AlertWriter, pool: Pool
) -> dict[str, Any]:
    """open or acknowledged → resolved, with a resolution code (409 when already resolved)."""
    now = datetime.now(UTC)
    return await _act(
        pool,
        principal,
        alert_id,
        lambda a: resolve(a, actor_of(principal), now, body.resolution_code, body.comment),
    )
