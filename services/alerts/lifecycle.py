"""The alert state machine, without I/O: snapshots in, changes out.

One alert exists per (vehicle, kind, location) at a time::

    (none) ──active──► open ──ack──► acknowledged ──resolve──► resolved
                        │  ▲               │
                        │  └─escalated     └──── condition cleared for
                        └──────────────────────── auto_resolve_after ──► auto_resolved

    resolved / auto_resolved ──active within reopen_holdoff──► open (same alert)

An active event more severe than a live alert raises its severity
(``severity_raised``, notified). A raised event (``AnomalyEvent.raised``: the
condition never ended, it grew worse) on a resolved alert is treated like a
return: within the hold-off it reopens the alert, saying so, and past it opens
a new one. Someone resolved the alert while the fault was still there, and
the fault has got worse since: that is worth a call.

The condition (what the detector last said: active or cleared) is tracked
beside the state and is not itself a state change: a condition that toggles
every few seconds keeps one open alert and produces no messages (the flapping
guard). Every :class:`Change` bumps the alert's ``version``; the change's
idempotency key is ``<alert_id>:<version>``.

Times compared with event timestamps are vehicle time; ``now`` is whatever
clock the caller runs on (wall time in production, event time in tests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from schemas.common import AlertState, AnomalyKind, ConditionState, Evidence, Severity
from schemas.events import AlertEvent, AnomalyEvent

LIVE = frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED})
RESOLVED = frozenset({AlertState.RESOLVED, AlertState.AUTO_RESOLVED})
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
NEXT_SEVERITY = {Severity.INFO: Severity.WARNING, Severity.WARNING: Severity.CRITICAL}
SYSTEM = "system"


class InvalidTransition(ValueError):
    """The requested change does not apply to the alert's current state."""


@dataclass(frozen=True)
class Policy:
    """Timings of the lifecycle."""

    auto_resolve_after: timedelta = timedelta(minutes=10)
    reopen_holdoff: timedelta = timedelta(minutes=30)
    # How long an alert may stay open (unacknowledged) at a severity before it rises.
    escalate_after: dict[Severity, timedelta] = field(
        default_factory=lambda: {
            Severity.INFO: timedelta(hours=4),
            Severity.WARNING: timedelta(minutes=30),
        }
    )


@dataclass(frozen=True)
class Alert:
    """One alert row as the lifecycle sees it."""

    alert_id: uuid.UUID
    vehicle_id: str
    pack_id: str | None
    depot_id: str | None
    kind: str
    location: str
    cell_index: int | None
    sensor_index: int | None
    severity: Severity
    state: AlertState
    version: int
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_code: str | None
    condition: ConditionState
    condition_since: datetime
    event_severity: Severity
    severity_since: datetime
    reopen_count: int
    last_event_at: datetime
    last_event_id: str | None
    evidence: Evidence


@dataclass(frozen=True)
class Change:
    """One lifecycle change: the alert after it, what happened, who did it."""

    after: Alert
    previous_state: AlertState | None
    action: str  # opened, reopened, severity_raised, escalated, acknowledged, resolved, …
    actor: str
    at: datetime
    comment: str | None = None
    notify: bool = False

    @property
    def idempotency_key(self) -> str:
        return f"{self.after.alert_id}:{self.after.version}"

    def message(self) -> AlertEvent:
        """The ``pack.alerts.v1`` message announcing this change."""
        a = self.after
        return AlertEvent(
            alert_id=str(a.alert_id),
            idempotency_key=self.idempotency_key,
            vehicle_id=a.vehicle_id,
            pack_id=a.pack_id,
            depot_id=a.depot_id,
            kind=AnomalyKind(a.kind),
            severity=a.severity,
            state=a.state,
            previous_state=self.previous_state,
            changed_at=self.at,
            actor=self.actor,
            comment=self.comment,
            cell_index=a.cell_index,
            sensor_index=a.sensor_index,
            evidence=a.evidence,
        )


@dataclass(frozen=True)
class Decision:
    """What one AnomalyEvent did: the alert it touched (if any), and its changes."""

    outcome: str  # opened, reopened, updated, cleared, ignored
    alert: Alert | None
    changes: tuple[Change, ...] = ()
    touched: bool = False  # the alert row changed (condition, evidence) even without a Change


def location_of(cell_index: int | None, sensor_index: int | None) -> str:
    """The alert key's location: ``cell:<i>``, ``sensor:<i>`` or ``pack``."""
    if cell_index is not None:
        return f"cell:{cell_index}"
    if sensor_index is not None:
        return f"sensor:{sensor_index}"
    return "pack"


def _open(ev: AnomalyEvent, depot_id: str | None) -> Change:
    alert = Alert(
        alert_id=uuid.uuid4(),
        vehicle_id=ev.vehicle_id,
        pack_id=ev.pack_id,
        depot_id=depot_id,
        kind=ev.kind.value,
        location=location_of(ev.cell_index, ev.sensor_index),
        cell_index=ev.cell_index,
        sensor_index=ev.sensor_index,
        severity=ev.severity,
        state=AlertState.OPEN,
        version=1,
        opened_at=ev.ts,
        acknowledged_at=None,
        resolved_at=None,
        resolution_code=None,
        condition=ConditionState.ACTIVE,
        condition_since=ev.ts,
        event_severity=ev.severity,
        severity_since=ev.ts,
        reopen_count=0,
        last_event_at=ev.ts,
        last_event_id=ev.event_id,
        evidence=dict(ev.evidence),
    )
    return Change(alert, None, "opened", SYSTEM, ev.ts, notify=True)


def _bump(alert: Alert, **fields: object) -> Alert:
    return replace(alert, version=alert.version + 1, **fields)  # type: ignore[arg-type]


def sweep(alert: Alert, now: datetime, policy: Policy, in_maintenance: bool) -> Change | None:
    """The time-driven change due on ``alert`` at ``now``, if any.

    Auto-resolution comes first: a cleared condition is not escalated. While
    the vehicle is in maintenance an alert does not escalate (people are on it).
    """
    if alert.state not in LIVE:
        return None
    if (
        alert.condition is ConditionState.CLEARED
        and now - alert.condition_since >= policy.auto_resolve_after
    ):
        after = _bump(alert, state=AlertState.AUTO_RESOLVED, resolved_at=now)
        return Change(after, alert.state, "auto_resolved", SYSTEM, now)
    limit = policy.escalate_after.get(alert.severity)
    if (
        alert.state is AlertState.OPEN
        and not in_maintenance
        and limit is not None
        and alert.severity in NEXT_SEVERITY
        and now - alert.severity_since >= limit
    ):
        after = _bump(alert, severity=NEXT_SEVERITY[alert.severity], severity_since=now)
        comment = f"unacknowledged for {limit} at {alert.severity.value}"
        return Change(after, alert.state, "escalated", SYSTEM, now, comment, notify=True)
    return None


def on_event(
    alert: Alert | None,
    ev: AnomalyEvent,
    policy: Policy,
    depot_id: str | None,
) -> Decision:
    """Apply one (new, not replayed) AnomalyEvent to the latest alert of its key.

    ``alert`` is the most recent alert for (vehicle, kind, location), live or
    not. An overdue auto-resolution is applied first, at the moment it fell
    due, so the event then sees the state it would have seen had the sweeper
    run in time.
    """
    changes: list[Change] = []
    if alert is not None and alert.state in LIVE:
        due = sweep(alert, alert.condition_since + policy.auto_resolve_after, policy, True)
        if due is not None and due.at <= ev.ts and due.action == "auto_resolved":
            changes.append(due)
            alert = due.after
    active = ev.state is ConditionState.ACTIVE
    if alert is None or (
        alert.state in RESOLVED
        and alert.resolved_at is not None
        and ev.ts - alert.resolved_at > policy.reopen_holdoff
    ):
        if not active:
            return Decision("ignored", alert, tuple(changes), touched=bool(changes))
        opened = _open(ev, depot_id)
        return Decision("opened", opened.after, (*changes, opened), touched=True)
    if alert.state in RESOLVED:
        if not active:
            return Decision("ignored", alert, tuple(changes), touched=bool(changes))
        after = _bump(
            alert,
            state=AlertState.OPEN,
            severity=ev.severity,
            event_severity=ev.severity,
            severity_since=ev.ts,
            condition=ConditionState.ACTIVE,
            condition_since=ev.ts,
            acknowledged_at=None,
            resolved_at=None,
            resolution_code=None,
            reopen_count=alert.reopen_count + 1,
            last_event_at=max(ev.ts, alert.last_event_at),
            last_event_id=ev.event_id,
            evidence=dict(ev.evidence),
        )
        if ev.raised:  # the condition never ended: it grew worse after the resolution
            comment = (f"detector reported {ev.severity.value} within the"
                       f" {policy.reopen_holdoff} hold-off")  # fmt: skip
        else:
            comment = f"condition returned within the {policy.reopen_holdoff} hold-off"
        reopened = Change(after, alert.state, "reopened", SYSTEM, ev.ts, comment, notify=True)
        return Decision("reopened", after, (*changes, reopened), touched=True)
    return _update_live(alert, ev, changes)


def _update_live(alert: Alert, ev: AnomalyEvent, changes: list[Change]) -> Decision:
    """A live alert hears from its detector again: condition, evidence, maybe severity."""
    late = ev.ts < alert.condition_since  # out of order: keep it, but it decides nothing
    active = ev.state is ConditionState.ACTIVE
    updated = alert
    if not late:
        new_condition = ConditionState.ACTIVE if active else ConditionState.CLEARED
        since = ev.ts if new_condition is not alert.condition else alert.condition_since
        updated = replace(
            alert,
            condition=new_condition,
            condition_since=since,
            last_event_at=max(ev.ts, alert.last_event_at),
            last_event_id=ev.event_id,
            evidence=dict(ev.evidence) if active else alert.evidence,
            # What the detector says now, even when escalation already put the
            # alert at or above it.
            event_severity=ev.severity if active else alert.event_severity,
        )
    if active and not late and RANK[ev.severity] > RANK[alert.severity]:
        after = _bump(updated, severity=ev.severity, severity_since=ev.ts)
        comment = f"detector reported {ev.severity.value}"
        raised = Change(after, alert.state, "severity_raised", SYSTEM, ev.ts, comment, notify=True)
        return Decision("updated", after, (*changes, raised), touched=True)
    outcome = "updated" if active else "cleared"
    return Decision(outcome, updated, tuple(changes), touched=updated != alert or bool(changes))


def acknowledge(alert: Alert, actor: str, now: datetime, comment: str | None) -> Change:
    """open → acknowledged; anything else is an :class:`InvalidTransition`."""
    if alert.state is not AlertState.OPEN:
        raise InvalidTransition(f"alert is {alert.state.value}; only an open alert is acknowledged")
    after = _bump(alert, state=AlertState.ACKNOWLEDGED, acknowledged_at=now)
    return Change(after, alert.state, "acknowledged", actor, now, comment)


def resolve(alert: Alert, actor: str, now: datetime, code: str, comment: str | None) -> Change:
    """open or acknowledged → resolved, with a resolution code."""
    if alert.state not in LIVE:
        raise InvalidTransition(f"alert is already {alert.state.value}")
    after = _bump(alert, state=AlertState.RESOLVED, resolved_at=now, resolution_code=code)
    return Change(after, alert.state, "resolved", actor, now, comment)
