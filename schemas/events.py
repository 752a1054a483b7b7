"""Event messages derived from telemetry: anomalies, alert changes, health scores.

- :class:`AnomalyEvent` (topic ``pack.anomalies.v1``): a detector saw a
  condition start (``state="active"``), grow more severe (``"active"`` again,
  ``raised=true``) or end (``state="cleared"``).
- :class:`AlertEvent` (topic ``pack.alerts.v1``): one alert changed lifecycle
  state; exactly one message per change, deduplicated on ``idempotency_key``.
- :class:`HealthScore` (table ``pack_health``): the state-of-health estimate of
  one pack at one time, with its uncertainty band.

All are keyed by ``vehicle_id`` on Kafka. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.common import (
    SCHEMA_VERSION_V1,
    AlertState,
    AnomalyKind,
    ConditionState,
    Evidence,
    Severity,
    Timestamp,
)

_M = msgspec.Meta

_VERSION = Annotated[int, _M(description="Contract version; 1 for this type")]


class AnomalyEvent(msgspec.Struct, kw_only=True, frozen=True):
    """A detector's finding about one pack, or the end of one (topic pack.anomalies.v1)."""

    schema_version: _VERSION = SCHEMA_VERSION_V1
    event_id: Annotated[
        str, _M(description="Unique, deterministic id: a replayed event keeps its id")
    ]
    vehicle_id: Annotated[str, _M(description="Fleet vehicle id; the Kafka key")]
    pack_id: Annotated[str | None, _M(description="Pack serial, if known")] = None
    ts: Annotated[Timestamp, _M(description="Vehicle time of the sample that decided it")]
    detected_at: Annotated[Timestamp, _M(description="When the detector decided (UTC)")]
    kind: AnomalyKind
    severity: Severity
    state: Annotated[
        ConditionState, _M(description="active = condition present; cleared = it has ended")
    ] = ConditionState.ACTIVE
    cell_index: Annotated[int | None, _M(description="Series cell index it concerns")] = None
    sensor_index: Annotated[int | None, _M(description="Temperature sensor index")] = None
    score: Annotated[float, _M(description="Detector score; larger = more anomalous")]
    evidence: Annotated[Evidence, _M(description="Readings and thresholds behind it")] = {}
    model_version: Annotated[
        str, _M(description="Model or rule-set version that produced it, e.g. 'rules-1'")
    ]
    raised: Annotated[
        bool,
        _M(
            description=(
                "true: the condition was already active and is reported again because it grew"
                " more severe (same onset, its own event id); false: its onset, or its end"
            )
        ),
    ] = False


class AlertEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One lifecycle change of a maintenance alert (topic pack.alerts.v1)."""

    schema_version: _VERSION = SCHEMA_VERSION_V1
    alert_id: Annotated[str, _M(description="Alert id; stable across its whole lifecycle")]
    idempotency_key: Annotated[
        str, _M(description="Unique per state change; consumers deduplicate on it")
    ]
    vehicle_id: Annotated[str, _M(description="Fleet vehicle id; the Kafka key")]
    pack_id: Annotated[str | None, _M(description="Pack serial, if known")] = None
    depot_id: Annotated[str | None, _M(description="Depot the vehicle belongs to")] = None
    kind: AnomalyKind
    severity: Severity
    state: Annotated[AlertState, _M(description="State after this change")]
    previous_state: Annotated[
        AlertState | None, _M(description="State before this change; null when created")
    ] = None
    changed_at: Annotated[Timestamp, _M(description="When the change was committed (UTC)")]
    actor: Annotated[str, _M(description="Who made the change: a user id, or 'system'")]
    comment: Annotated[str | None, _M(description="Free text given with the change")] = None
    cell_index: Annotated[int | None, _M(description="Series cell index it concerns")] = None
    sensor_index: Annotated[int | None, _M(description="Temperature sensor index")] = None
    evidence: Annotated[Evidence, _M(description="Readings that triggered the alert")] = {}


class HealthScore(msgspec.Struct, kw_only=True, frozen=True):
    """State-of-health estimate of one pack (table pack_health)."""

    schema_version: _VERSION = SCHEMA_VERSION_V1
    vehicle_id: Annotated[str, _M(description="Fleet vehicle id")]
    pack_id: Annotated[str | None, _M(description="Pack serial, if known")] = None
    ts: Annotated[Timestamp, _M(description="Vehicle time the estimate refers to (UTC)")]
    soh_pct: Annotated[float, _M(description="Estimated capacity as % of nominal")]
    soh_low_pct: Annotated[float, _M(description="Lower edge of the uncertainty band, %")]
    soh_high_pct: Annotated[float, _M(description="Upper edge of the uncertainty band, %")]
    capacity_ah: Annotated[float | None, _M(description="Estimated capacity, Ah")] = None
    resistance_growth_pct: Annotated[
        float | None, _M(description="Internal resistance growth over new, %")
    ] = None
    weak_cell_indices: Annotated[
        list[int], _M(description="Series cells flagged as weak, in pack order")
    ] = []
    model_version: Annotated[str, _M(description="Model version that produced it")]
