"""Findings (what a detector sees now) and conditions (findings that persisted), with ids.

A finding is raised afresh on every scoring pass while its predicate holds.
:class:`ConditionTracker` turns that into onset and end: a condition becomes
active once its finding has held for ``hold_s`` of vehicle time (or the
shorter hold the finding asks for: one two independent signals corroborate),
and clears once it has been absent for ``clear_s``. While it is active, a
finding more severe than any it reported (a partly failed pump whose flow is
then lost, a pack that then passes 45 degC) is reported again, as active with
the new severity: the alerts service raises the alert's severity and notifies.
Event ids are UUID v5 of (vehicle, kind, location, onset, state), all from
the vehicle's own clock, so replaying the same samples yields the same ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.common import AnomalyKind, EvidenceValue, Severity

#: How often findings are taken, in each pack's vehicle time: the evaluation
#: scores every 30 s (models/loop.py), the scoring service once in every 30 s
#: window of each pack's clock.
SCORE_EVERY_S = 30.0

#: Slack in comparing a condition's held or absent time with its hold and clear
#: times. Passes are SCORE_EVERY_S apart on each bus's own clock, which drifts
#: (tens of ppm: a 60 s hold measured 59.997 s) and whose sample times jitter
#: by fractions of a second: without it, a condition held for exactly its hold
#: waited a whole pass more on a slow clock.
TIME_SLACK_S = 1.0

_NS = uuid.UUID("6f1c1d52-6a53-4bb6-8d0e-3b8f5a1c9e21")
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Finding:
    """One detector's verdict about one place in one pack at one scoring pass."""

    vehicle_id: str
    kind: AnomalyKind
    severity: Severity
    score: float
    source: str  # model or rule-set version
    sensor: int | None = None
    cell: int | None = None
    evidence: dict[str, EvidenceValue] = field(default_factory=dict)
    #: How long its condition must hold before it is active, where this finding
    #: needs less than the tracker's ``hold_s`` (None: the tracker's); once one
    #: has asked, any finding of the condition counts towards it.
    hold_s: float | None = None

    @property
    def location(self) -> str:
        """ "sensor:4", "cell:17" or "pack", as the alerts table keys it."""
        if self.sensor is not None:
            return f"sensor:{self.sensor}"
        if self.cell is not None:
            return f"cell:{self.cell}"
        return "pack"


@dataclass(frozen=True)
class Transition:
    """A condition became active or cleared."""

    state: str  # "active" | "cleared"
    event_id: str
    onset_ts: float
    ts: float  # vehicle time of the deciding pass
    finding: Finding
    raised: bool = False  # an active condition reported again at a higher severity


@dataclass
class _Open:
    first_ts: float
    last_ts: float
    finding: Finding
    hold_s: float  # the shortest hold any of its findings asked for (or the tracker's)
    active: bool = False
    reported: Severity | None = None  # the highest severity reported while active


def event_id(vehicle_id: str, kind: str, location: str, onset_ts: float, state: str) -> str:
    """Deterministic id of the event for this condition's onset (and its clearing)."""
    onset = datetime.fromtimestamp(round(onset_ts, 3), tz=UTC).isoformat()
    return str(uuid.uuid5(_NS, f"{vehicle_id}|{kind}|{location}|{onset}|{state}"))


class ConditionTracker:
    """Hysteresis over findings, per (vehicle, kind, location)."""

    def __init__(self, hold_s: float = 60.0, clear_s: float = 900.0) -> None:
        self.hold_s, self.clear_s = hold_s, clear_s
        self._open: dict[tuple[str, str, str], _Open] = {}

    def observe(self, findings: list[Finding], seen: dict[str, float]) -> list[Transition]:
        """Feed one pass: ``findings`` now, ``seen`` = vehicle -> pass time for every pack scored.

        Packs in ``seen`` without a finding for an open condition count as its
        absence; packs not in ``seen`` leave their conditions untouched.
        """
        out: list[Transition] = []
        present: set[tuple[str, str, str]] = set()
        for f in findings:
            key = (f.vehicle_id, f.kind.value, f.location)
            ts = seen[f.vehicle_id]
            present.add(key)
            cur = self._open.get(key)
            if cur is None:
                cur = self._open[key] = _Open(ts, ts, f, self.hold_s)
            cur.last_ts = ts
            if f.hold_s is not None and f.hold_s < cur.hold_s:
                cur.hold_s = f.hold_s
            # The most severe finding so far (the newest of equals) speaks for
            # the condition: a hold window that saw a critical pass and then a
            # warning one becomes active as critical, with the critical pass's
            # evidence and score (the event's ts is the deciding pass's).
            if _RANK[f.severity] >= _RANK[cur.finding.severity]:
                cur.finding = f
            if not cur.active and ts - cur.first_ts >= cur.hold_s - TIME_SLACK_S:
                cur.active = True
                cur.reported = cur.finding.severity
                eid = event_id(f.vehicle_id, f.kind.value, f.location, cur.first_ts, "active")
                out.append(Transition("active", eid, cur.first_ts, ts, cur.finding))
            elif cur.active and cur.reported and _RANK[f.severity] > _RANK[cur.reported]:
                cur.reported = f.severity
                state = f"raised:{f.severity.value}"
                eid = event_id(f.vehicle_id, f.kind.value, f.location, cur.first_ts, state)
                out.append(Transition("active", eid, cur.first_ts, ts, f, raised=True))
        for key in [k for k in self._open if k not in present and k[0] in seen]:
            cur = self._open[key]
            ts = seen[key[0]]
            if not cur.active and ts - cur.last_ts > cur.hold_s + TIME_SLACK_S:
                del self._open[key]  # a blip that never persisted (absent longer than its hold)
            elif cur.active and ts - cur.last_ts >= self.clear_s - TIME_SLACK_S:
                del self._open[key]
                eid = event_id(key[0], key[1], key[2], cur.first_ts, "cleared")
                out.append(Transition("cleared", eid, cur.first_ts, ts, cur.finding))
        return out

    def active(self) -> list[Finding]:
        """Findings of the conditions active now."""
        return [o.finding for o in self._open.values() if o.active]
