"""Safety rules and the condition tracker: thresholds, open sensors, hysteresis, stable ids."""

from __future__ import annotations

import numpy as np

from models import rules
from models.findings import ConditionTracker, Finding, event_id
from models.frame import Frame
from models.limits import LIMITS
from models.thermal import ThermalState
from schemas.common import AnomalyKind, Severity
from schemas.fleet import LFP_CALB_R1


def _frame(temps: np.ndarray, **kw: float) -> Frame:
    n = 1
    return Frame(
        "LFP-CALB-R1", ["BUS-1"], np.array([1000.0]), np.full(n, kw.get("current", -30.0)),
        np.full((n, 204), 3.3),
        temps[None, :], np.array([kw.get("inlet", 25.0)]), np.array([kw.get("outlet", 26.0)]),
        np.array([30.0]), np.array([kw.get("ins", 5000.0)]),
    )  # fmt: skip


def _eval(f: Frame) -> dict[AnomalyKind, Finding]:
    st = ThermalState(LFP_CALB_R1, None)
    rows = st.update(f)
    return {x.kind: x for x in rules.evaluate(st, rows, f)}


def test_healthy_pack_raises_nothing() -> None:
    assert _eval(_frame(np.full(48, 31.0))) == {}


def test_over_temperature_names_the_sensor_and_grades_severity() -> None:
    t = np.full(48, 31.0)
    t[7] = 52.0
    got = _eval(_frame(t))[AnomalyKind.OVER_TEMPERATURE]
    assert got.sensor == 7 and got.severity is Severity.WARNING
    t[7] = LIMITS["LFP-CALB-R1"].over_temp_crit_c + 1
    assert _eval(_frame(t))[AnomalyKind.OVER_TEMPERATURE].severity is Severity.CRITICAL


def test_open_sensor_is_not_a_temperature_spread() -> None:
    t = np.full(48, 31.0)
    t[3] = -40.0
    assert AnomalyKind.TEMPERATURE_SPREAD not in _eval(_frame(t))
    t[4] = 44.0
    assert AnomalyKind.TEMPERATURE_SPREAD in _eval(_frame(t))


def test_coolant_dt_and_insulation() -> None:
    got = _eval(_frame(np.full(48, 31.0), inlet=25.0, outlet=34.0, ins=50.0))
    cooling = got[AnomalyKind.COOLING_FAILURE]
    assert cooling.severity is Severity.CRITICAL and cooling.evidence["coolant_dt_c"] == 9.0
    assert AnomalyKind.COOLANT_DELTA_T not in got
    assert got[AnomalyKind.INSULATION_FAULT].severity is Severity.CRITICAL


def test_coolant_dt_of_a_parked_pack_is_not_judged() -> None:
    # Parked: no current, the pump is off and the still coolant warms toward the cells.
    got = _eval(_frame(np.full(48, 31.0), inlet=25.0, outlet=34.0, current=0.3))
    assert AnomalyKind.COOLANT_DELTA_T not in got


def test_rate_of_rise() -> None:
    st = ThermalState(LFP_CALB_R1, None)
    for k in range(0, 900, 10):
        t = np.full(48, 31.0)
        t[20] = 31.0 + 2.0 * k / 60.0  # 2 degC/min
        f = _frame(t)
        f.ts_s[:] = 1000.0 + k
        rows = st.update(f)
    got = {x.kind: x for x in rules.evaluate(st, rows, f)}
    assert got[AnomalyKind.TEMPERATURE_RISE_RATE].sensor == 20


def test_tracker_holds_clears_and_ids_are_deterministic() -> None:
    f = Finding("BUS-1", AnomalyKind.COOLING_FAILURE, Severity.WARNING, 0.9, "m")
    tr = ConditionTracker(hold_s=60, clear_s=300)
    assert tr.observe([f], {"BUS-1": 0.0}) == []
    on = tr.observe([f], {"BUS-1": 60.0})
    assert [x.state for x in on] == ["active"]
    assert on[0].event_id == event_id("BUS-1", "cooling_failure", "pack", 0.0, "active")
    assert tr.observe([], {"BUS-1": 200.0}) == []
    off = tr.observe([], {"BUS-1": 400.0})
    assert [x.state for x in off] == ["cleared"] and off[0].event_id != on[0].event_id
    again = ConditionTracker(hold_s=60, clear_s=300)
    again.observe([f], {"BUS-1": 0.0})
    assert again.observe([f], {"BUS-1": 60.0})[0].event_id == on[0].event_id


def test_a_hold_counts_passes_on_a_drifting_clock_and_a_finding_may_ask_less() -> None:
    f = Finding("BUS-1", AnomalyKind.COOLING_FAILURE, Severity.WARNING, 0.9, "m")
    tr = ConditionTracker(hold_s=60, clear_s=300)
    tr.observe([f], {"BUS-1": 0.0})
    assert tr.observe([f], {"BUS-1": 29.9985}) == []
    # Two passes on after the first on a clock 50 ppm slow: held its 60 s.
    assert [x.state for x in tr.observe([f], {"BUS-1": 59.997})] == ["active"]
    assert tr.observe([], {"BUS-1": 100.0}) == []
    assert [x.state for x in tr.observe([], {"BUS-1": 359.985})] == ["cleared"]
    # A blip missing from two passes is still open at the third on a fast clock too.
    blip = ConditionTracker(hold_s=60, clear_s=300)
    blip.observe([f], {"BUS-1": 0.0})
    assert blip.observe([], {"BUS-1": 30.0015}) == blip.observe([], {"BUS-1": 60.003}) == []
    assert [x.onset_ts for x in blip.observe([f], {"BUS-1": 90.0045})] == [0.0]
    gone = ConditionTracker(hold_s=60, clear_s=300)
    gone.observe([f], {"BUS-1": 0.0})
    assert gone.observe([], {"BUS-1": 90.0}) == []  # absent longer than its hold: dropped
    assert gone.observe([f], {"BUS-1": 120.0}) == []  # opened afresh
    # A finding two signals corroborate may ask for a shorter hold, never a longer one.
    short = Finding("BUS-1", AnomalyKind.SELF_HEATING_CELL, Severity.CRITICAL, 1.0, "p",
                    sensor=3, hold_s=30.0)  # fmt: skip
    quick = ConditionTracker(hold_s=60, clear_s=300)
    quick.observe([short], {"BUS-1": 0.0})
    assert [x.state for x in quick.observe([short], {"BUS-1": 30.0})] == ["active"]
    slow = Finding("BUS-1", AnomalyKind.SELF_HEATING_CELL, Severity.CRITICAL, 1.0, "p",
                   sensor=3, hold_s=600.0)  # fmt: skip
    capped = ConditionTracker(hold_s=60, clear_s=300)
    capped.observe([slow], {"BUS-1": 0.0})
    assert capped.observe([slow], {"BUS-1": 30.0}) == []
    assert [x.state for x in capped.observe([slow], {"BUS-1": 60.0})] == ["active"]


def test_a_condition_that_grows_more_severe_is_reported_again_once_per_level() -> None:
    warn = Finding("BUS-1", AnomalyKind.COOLING_FAILURE, Severity.WARNING, 0.9, "m")
    crit = Finding("BUS-1", AnomalyKind.COOLING_FAILURE, Severity.CRITICAL, 0.9, "m")
    tr = ConditionTracker(hold_s=60, clear_s=300)
    tr.observe([warn], {"BUS-1": 0.0})
    on = tr.observe([warn], {"BUS-1": 60.0})
    assert [(x.state, x.finding.severity) for x in on] == [("active", Severity.WARNING)]
    raised = tr.observe([crit], {"BUS-1": 70.0})
    assert [(x.state, x.finding.severity, x.onset_ts) for x in raised] == [
        ("active", Severity.CRITICAL, 0.0)
    ]
    assert raised[0].event_id == event_id(
        "BUS-1", "cooling_failure", "pack", 0.0, "raised:critical"
    )
    assert raised[0].event_id != on[0].event_id and raised[0].raised and not on[0].raised
    # The same level again, or a lower one, is nothing new.
    assert tr.observe([crit], {"BUS-1": 80.0}) == []
    assert tr.observe([warn], {"BUS-1": 90.0}) == []
    assert [x.state for x in tr.observe([], {"BUS-1": 400.0})] == ["cleared"]
    # A condition that starts critical is reported once.
    fresh = ConditionTracker(hold_s=60, clear_s=300)
    fresh.observe([crit], {"BUS-1": 0.0})
    assert len(fresh.observe([crit], {"BUS-1": 60.0})) == 1
    assert fresh.observe([crit], {"BUS-1": 70.0}) == []
    # A hold window that saw it critical, then a warning, becomes active as critical.
    held = ConditionTracker(hold_s=60, clear_s=300)
    held.observe([crit], {"BUS-1": 0.0})
    on = held.observe([warn], {"BUS-1": 60.0})
    assert [(x.finding.severity, x.raised) for x in on] == [(Severity.CRITICAL, False)]
    assert held.observe([crit], {"BUS-1": 70.0}) == []


def test_a_class_calibrated_up_to_the_ceiling_is_left_to_the_physics_checks() -> None:
    from models.detector import OFF, thresholds_of
    from models.onnx_io import Model

    sensor = Model("sensor", None, {"thresholds": '{"sensor_fault": 0.62}'}, "probabilities")
    pack = Model("pack", None, {"thresholds": '{"cooling_failure": 0.99}'}, "probabilities")
    th = thresholds_of({"sensor": sensor, "pack": pack})
    assert th.sensor["sensor_fault"] == 0.62 and th.cooling == OFF > 1.0


def test_spread_is_judged_on_one_minute_averages_not_one_reading() -> None:
    st = ThermalState(LFP_CALB_R1, None)
    for k in range(0, 600, 10):
        t = np.full(48, 31.0)
        t[7] = 41.0 if k == 590 else 31.0  # one reading 10 degC off, once
        f = _frame(t)
        f.ts_s[:] = 1000.0 + k
        rows = st.update(f)
    assert AnomalyKind.TEMPERATURE_SPREAD not in {x.kind for x in rules.evaluate(st, rows, f)}
