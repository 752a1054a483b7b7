"""The internal-short check: a sensor's heat together with its cell's voltage drop.

One simulated NMC bus in service, through the shipped detector. A short that
takes its cell past the thermal limit within the hour is found by the physics
check, at its cell: by the fresh signature (heat rising over a cell whose
voltage just stepped down) within four minutes, by the settled one alone
(hotter, lower) within seven. A sensor drifting up as fast, with every cell
voltage healthy, is not called a short; nor is a weak cell whose voltage
swings as far as a short's, with no heat.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from models import detector
from models.detector import PHYSICS_VERSION
from models.evaluate import load_detector
from models.findings import ConditionTracker, Finding
from models.simdata import frame_of
from schemas.common import AnomalyKind
from schemas.fleet import Bus
from services.simulator import Fleet, FleetConfig, Realism

ONSET_S = 2400.0
CELL, SENSOR = 50, 12  # NMC-R3: four cells a sensor


def _short_findings(
    faults: str, after_s: float = 900.0, onset_s: float = ONSET_S
) -> tuple[list[tuple[float, Finding]], float, float]:
    """Physics-check shorts (time after onset, finding), SENSOR's hottest local
    residual, and the lowest 1-minute voltage step under it (mV)."""
    bus = (Bus("BUS-0001", "CHN-MDV", "NMC-R3", "PK-1"),)
    fleet = Fleet(FleetConfig(vehicles=bus, start=datetime(2026, 5, 4, 2, 30, tzinfo=UTC),
                              seed=3, faults=faults,
                              realism=Realism(temp_noise_c=0.3, sensor_bias_c=0.4)))  # fmt: skip
    det = load_detector()
    out = []
    hottest, lowest = -99.0, 99.0
    for k, readings in enumerate(fleet.run(onset_s + after_s, 10.0)):
        for r in readings:
            det.update(frame_of(r))
        if k % 3 == 2:
            st = det.state("NMC-R3")
            row = st.rows["BUS-0001"]
            hottest = max(hottest, float(st.loc_f[row, SENSOR]))
            lowest = min(lowest, float(st.quick_drain(np.array([row]))[0, SENSOR]))
            findings, _ = det.score()
            shorts = [f for f in findings if f.kind is AnomalyKind.SELF_HEATING_CELL]
            out += [(fleet.t_s - onset_s, f) for f in shorts if f.source == PHYSICS_VERSION]
    return out, hottest, lowest


SEVERE = f"self_heating_cell:BUS-0001@{ONSET_S:.0f}s:cell={CELL}:severity=0.9"


def _num(f: Finding, key: str) -> float:
    v = f.evidence[key]
    assert isinstance(v, float)
    return v


def test_a_severe_short_is_found_at_its_cell_within_minutes() -> None:
    found, _, _ = _short_findings(SEVERE)
    assert found, "the short was not found"
    t, f = found[0]
    assert 0.0 <= t <= 240.0
    assert (f.sensor, f.cell) == (SENSOR, CELL)
    # The fresh signature decided it: heat rising, the voltage stepped down.
    assert f.evidence["signature"] == "fresh"
    assert _num(f, "local_rise_c") >= detector.SHORT_RISE_C
    assert _num(f, "cell_step_mv") <= -detector.SHORT_STEP_MV
    # Corroborated twice over, its condition is active after two passes, not three.
    assert f.hold_s == detector.SHORT_FRESH_HOLD_S == 30.0
    tracker = ConditionTracker()
    active = []
    for tg, g in found:
        if g.sensor == SENSOR and tracker.observe([g], {"BUS-0001": tg}):
            active.append(tg)
    assert active and active[0] == pytest.approx(t + 30.0)
    # A pass where both signatures show speaks as settled and still asks for 30 s.
    both = [g for _, g in found if g.evidence["signature"] == "settled"]
    assert both and all(g.hold_s == 30.0 for g in both[:3])


def test_the_settled_signature_alone_finds_it_later(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_t = _short_findings(SEVERE)[0][0][0]
    monkeypatch.setattr(detector, "SHORT_RISE_C", math.inf)  # no fresh signature
    found, _, _ = _short_findings(SEVERE)
    assert found, "the short was not found"
    t, f = found[0]
    assert fresh_t + 60.0 < t <= 420.0
    assert (f.sensor, f.cell) == (SENSOR, CELL)
    assert f.evidence["signature"] == "settled" and f.hold_s is None  # the tracker's 60 s
    assert _num(f, "cell_drain_mv") <= -detector.SHORT_DROP_MV
    assert _num(f, "local_residual_c") >= detector.SHORT_HEAT_C


def test_a_weak_cell_swinging_as_low_is_not_a_short() -> None:
    # A cell with 65 % of its neighbours' capacity, over a day's service: its
    # voltage falls as far under its mean as a severe short's, its sensor stays cool.
    spec = f"weak_cell:BUS-0001:cell={CELL}:severity=1"
    found, _, lowest = _short_findings(spec, after_s=11 * 3600.0, onset_s=0.0)
    assert lowest <= -2 * detector.SHORT_STEP_MV
    assert found == []


def test_a_drifting_sensor_is_not_a_short() -> None:
    # 5 degC an hour for 40 minutes: the sensor reads as hot as a short's, its cells are well.
    spec = f"sensor_fault:BUS-0001@{ONSET_S:.0f}s:mode=drift:sensor={SENSOR}:severity=1"
    found, hottest, _ = _short_findings(spec, after_s=2400.0)
    assert hottest >= 2.0  # this seed's drift is upward
    assert found == []
