"""The alert state machine without I/O: transitions, flapping, hold-off, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.common import AlertState, AnomalyKind, ConditionState, Severity
from schemas.events import AnomalyEvent
from services.alerts.lifecycle import (
    InvalidTransition,
    Policy,
    acknowledge,
    on_event,
    resolve,
    sweep,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
POLICY = Policy(
    auto_resolve_after=timedelta(minutes=2),
    reopen_holdoff=timedelta(minutes=10),
    escalate_after={Severity.WARNING: timedelta(minutes=5)},
)


def ev(
    s: float, active: bool = True, severity: Severity = Severity.WARNING, raised: bool = False
) -> AnomalyEvent:
    ts = T0 + timedelta(seconds=s)
    return AnomalyEvent(
        event_id=f"e{s}{active}{raised}",
        vehicle_id="BUS-0001",
        ts=ts,
        detected_at=ts,
        kind=AnomalyKind.OVER_TEMPERATURE,
        severity=severity,
        state=ConditionState.ACTIVE if active else ConditionState.CLEARED,
        cell_index=3,
        score=1.0,
        model_version="rules-1",
        raised=raised,
    )


def test_flapping_keeps_one_open_alert_and_makes_no_changes() -> None:
    d = on_event(None, ev(0), POLICY, "CHN-MDV")
    assert d.outcome == "opened" and [c.action for c in d.changes] == ["opened"]
    alert = d.alert
    for i in range(1, 200):
        d = on_event(alert, ev(3 * i, active=i % 2 == 0), POLICY, "CHN-MDV")
        assert not d.changes
        alert = d.alert
    assert alert is not None and alert.state is AlertState.OPEN and alert.version == 1


def test_a_cleared_condition_auto_resolves_and_a_return_in_the_holdoff_reopens() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    assert alert is not None
    alert = on_event(alert, ev(10, active=False), POLICY, None).alert
    assert alert is not None
    assert sweep(alert, T0 + timedelta(seconds=60), POLICY, False) is None
    change = sweep(alert, T0 + timedelta(seconds=130), POLICY, False)
    assert change is not None and change.after.state is AlertState.AUTO_RESOLVED
    back = on_event(change.after, ev(400), POLICY, None)
    assert back.outcome == "reopened" and back.alert is not None
    assert back.alert.alert_id == alert.alert_id and back.alert.version == 3
    later = on_event(change.after, ev(130 + 601), POLICY, None)
    assert later.outcome == "opened" and later.alert is not None
    assert later.alert.alert_id != alert.alert_id


def test_an_overdue_auto_resolution_is_applied_before_the_next_event() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    alert = on_event(alert, ev(10, active=False), POLICY, None).alert
    d = on_event(alert, ev(300), POLICY, None)
    assert [c.action for c in d.changes] == ["auto_resolved", "reopened"]
    assert d.changes[0].after.resolved_at == T0 + timedelta(seconds=130)


def test_escalation_only_while_open_and_not_in_maintenance() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    assert alert is not None
    at = T0 + timedelta(minutes=6)
    assert sweep(alert, at, POLICY, in_maintenance=True) is None
    up = sweep(alert, at, POLICY, in_maintenance=False)
    assert up is not None and up.action == "escalated" and up.notify
    assert up.after.severity is Severity.CRITICAL
    assert sweep(up.after, at + timedelta(hours=1), POLICY, False) is None  # critical is the top
    acked = acknowledge(alert, "token:x", at, "seen")
    assert sweep(acked.after, at + timedelta(hours=1), POLICY, False) is None


def test_a_higher_severity_from_the_detector_raises_the_alert() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    d = on_event(alert, ev(5, severity=Severity.CRITICAL), POLICY, None)
    assert [c.action for c in d.changes] == ["severity_raised"]
    lower = on_event(d.alert, ev(6, severity=Severity.INFO), POLICY, None)
    assert not lower.changes and lower.alert is not None
    assert lower.alert.severity is Severity.CRITICAL


def test_a_detector_raise_after_escalation_changes_nothing_but_is_recorded() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    assert alert is not None
    up = sweep(alert, T0 + timedelta(minutes=6), POLICY, False)
    assert up is not None and up.after.severity is Severity.CRITICAL
    d = on_event(up.after, ev(400, severity=Severity.CRITICAL, raised=True), POLICY, None)
    assert not d.changes and d.touched and d.alert is not None
    assert d.alert.severity is Severity.CRITICAL and d.alert.version == up.after.version
    assert d.alert.event_severity is Severity.CRITICAL  # what the detector says now


def test_a_raise_after_a_hand_resolution_reopens_within_the_holdoff_else_opens_anew() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    assert alert is not None
    done = resolve(alert, "token:a", T0 + timedelta(seconds=30), "false_alarm", None).after
    worse = on_event(done, ev(100, severity=Severity.CRITICAL, raised=True), POLICY, None)
    assert worse.outcome == "reopened" and worse.alert is not None
    assert worse.alert.alert_id == alert.alert_id and worse.alert.reopen_count == 1
    assert worse.alert.severity is Severity.CRITICAL and worse.alert.state is AlertState.OPEN
    (change,) = worse.changes
    assert change.notify and change.previous_state is AlertState.RESOLVED
    assert change.comment is not None and "detector reported critical" in change.comment
    returned = on_event(done, ev(100), POLICY, None).changes[0].comment
    assert returned is not None and "condition returned" in returned
    late = on_event(done, ev(30 + 601, severity=Severity.CRITICAL, raised=True), POLICY, None)
    assert late.outcome == "opened" and late.alert is not None
    assert late.alert.alert_id != alert.alert_id and late.alert.severity is Severity.CRITICAL


def test_people_transitions_and_their_refusals() -> None:
    alert = on_event(None, ev(0), POLICY, None).alert
    assert alert is not None
    acked = acknowledge(alert, "token:a", T0, "on it")
    with pytest.raises(InvalidTransition):
        acknowledge(acked.after, "token:a", T0, None)
    done = resolve(acked.after, "token:a", T0, "repaired", "fixed")
    assert done.after.state is AlertState.RESOLVED and done.after.resolution_code == "repaired"
    assert (
        done.idempotency_key.endswith(":3")
        and done.message().previous_state is AlertState.ACKNOWLEDGED
    )
    with pytest.raises(InvalidTransition):
        resolve(done.after, "token:a", T0, "repaired", None)
