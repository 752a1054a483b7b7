"""Thermal model features on synthetic series whose answers are known by construction
(SoH: test_models_soh.py)."""

from __future__ import annotations

import numpy as np

from models.frame import Frame
from models.thermal import ThermalState
from schemas.fleet import LFP_CALB_R1, NMC_R3


def _frame(design: object, n: int, t: float, **kw: np.ndarray) -> Frame:
    d = design
    assert d is NMC_R3 or d is LFP_CALB_R1
    base = {
        "current_a": np.zeros(n), "cell_v": np.full((n, d.cells_series), 3.7),
        "temps": np.full((n, d.temp_sensors), 30.0), "inlet_c": np.full(n, 24.0),
        "outlet_c": np.full(n, 25.0), "ambient_c": np.full(n, 32.0),
        "insulation_kohm": np.full(n, 5000.0),
    }  # fmt: skip
    base.update(kw)
    return Frame(d.design_id, [f"V{k}" for k in range(n)], np.full(n, t), **base)


def test_thermal_state_sees_extra_resistance_dropout_and_stuck() -> None:
    st = ThermalState(NMC_R3, None)
    rng = np.random.default_rng(0)
    for k in range(1200):
        i = rng.uniform(-200, 150, 1)
        v = np.full((1, 176), 3.7) + rng.normal(0, 0.0008, (1, 176))
        v[0, 40] += i[0] * 0.5e-3  # +0.5 mOhm on cell 40's tap
        temps = 30.0 + rng.normal(0, 0.5, (1, 44))
        temps[0, 5] = 30.0  # stuck sensor
        temps[0, 9] = -40.0 if k % 2 else 30.0  # open NTC half the time
        st.update(_frame(NMC_R3, 1, 1000.0 + k, current_a=i, cell_v=v, temps=temps))
    rex = st.r_excess(np.array([0]))[0]
    assert abs(rex[40] - 0.5) < 0.05 and abs(np.median(rex)) < 0.02
    x = st.sensor_features(np.array([0])).reshape(44, -1)
    assert x[9, 6] > 0.3 and x[0, 6] == 0.0  # dropout share
    assert x[5, 5] < -1.0 and abs(x[0, 5]) < 0.5  # stuck score: far below its neighbours
    assert st.cell_evidence(0, 10)[0] == 40


def _loop_state(inlet: float, current: float, seconds: int = 900) -> ThermalState:
    """A hot pack (33 degC) after ``seconds`` with the outlet at 30 degC, ambient 32 degC."""
    st = ThermalState(NMC_R3, None)
    for k in range(0, seconds, 10):
        f = _frame(NMC_R3, 1, 1000.0 + k, current_a=np.array([current]),
                   temps=np.full((1, 44), 33.0), inlet_c=np.array([inlet]),
                   outlet_c=np.array([30.0]))  # fmt: skip
        st.update(f)
    return st


def _run_loop(inlet: float, current: float, seconds: int = 900) -> float:
    """Seconds of chiller shortfall (see :func:`_loop_state`)."""
    return float(_loop_state(inlet, current, seconds).chill_s[0])


def test_chiller_shortfall_needs_a_demanded_chiller_on_a_powered_bus() -> None:
    # A working chiller holds the inlet at max(24, 30 - 9.1) = 24 degC: no shortfall.
    assert _run_loop(inlet=24.0, current=-40.0) == 0.0
    # An inlet 5 degC above that while the pack is hot and powered: the chiller fails.
    assert _run_loop(inlet=29.0, current=-40.0) >= 800.0
    # Parked (no current): the pump and chiller are off by design, not failed.
    assert _run_loop(inlet=29.0, current=0.5) == 0.0


def test_an_inlet_far_from_both_of_the_loops_modes_counts_once_the_pump_has_settled() -> None:
    def off_s(inlet: float, current: float = -40.0) -> float:
        return float(_loop_state(inlet, current, seconds=1800).inlet_off_s[0])

    # The chiller's inlet is max(24, 30 - 9.1) = 24 degC; the radiator's, chiller
    # off, 30 + 0.3 * (32 - 30) = 30.6 degC. Either is a working loop.
    assert off_s(24.0) == 0.0 and off_s(31.0) == 0.0 and off_s(30.0) == 0.0
    # 27 degC is neither: counted from when the pump has run 15 minutes, so 900 s
    # of the 1,800.
    assert off_s(27.0) == 900.0
    assert off_s(27.0, current=0.5) == 0.0  # parked: the pump is off by design


def test_a_gap_or_a_missing_loop_temperature_is_no_evidence_of_a_failed_loop() -> None:
    def run(times: list[float], outlet: list[float]) -> float:
        st = ThermalState(NMC_R3, None)
        for t, out_c in zip(times, outlet, strict=True):
            st.update(_frame(NMC_R3, 1, 1000.0 + t, current_a=np.array([-40.0]),
                             inlet_c=np.array([27.0]), outlet_c=np.array([out_c]),
                             ambient_c=np.array([32.0])))  # fmt: skip
        return float(st.inlet_off_s[0])

    steady = [float(k) for k in range(0, 1200, 10)]  # 300 s counted from 900 s on
    assert run(steady, [30.0] * len(steady)) == 300.0
    # Ten minutes without data (under the restart gap): one sample counts 30 s, not 600.
    assert run([*steady, 1790.0], [30.0] * (len(steady) + 1)) == 330.0
    # The outlet missing for 20 minutes: the count holds, neither grows nor decays.
    missing = [float(k) for k in range(1200, 2400, 10)]
    assert run(steady + missing, [30.0] * len(steady) + [np.nan] * len(missing)) == 300.0


def test_detector_finds_a_loose_joint_from_its_tap_voltage_alone() -> None:
    from models.detector import Detector, corroborated
    from schemas.common import AnomalyKind

    det = Detector({})
    rng = np.random.default_rng(1)
    found = []
    for k in range(0, 5400, 5):
        i = rng.uniform(-200, 150, 1)
        v = np.full((1, 176), 3.7) + rng.normal(0, 0.0008, (1, 176))
        if k >= 2400:
            v[0, 40] += i[0] * 1.2e-3  # a joint loosens: +1.2 mOhm after 40 minutes
        temps = np.round(30.0 + rng.normal(0, 0.3, (1, 44)))
        det.update(_frame(NMC_R3, 1, 1000.0 + k, current_a=i, cell_v=v, temps=temps))
        if k % 30 == 0:
            found += [(k, x) for x in det.score()[0]]
    hot = [(k, x) for k, x in found if x.kind is AnomalyKind.CONNECTION_HOT_SPOT]
    assert hot and all(k >= 2400 for k, _ in hot)
    assert {x.cell for _, x in hot} == {40} and {x.source for _, x in hot} == {"physics-1"}
    assert {x.kind for _, x in found} == {AnomalyKind.CONNECTION_HOT_SPOT}
    # The sensor model's classes need readings that back them.
    x = np.zeros((1, 2, 14), dtype=np.float32)
    x[0, 1, 1] = x[0, 1, 2] = 2.5  # sensor 1 runs 2.5 degC over its neighbours
    ok = corroborated(x)
    assert ok[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert ok[0, 1].tolist() == [1.0, 1.0, 1.0, 1.0]


def _coolant_findings(outlet: float, minutes: int = 45, excess_from: int = 0) -> dict[str, float]:
    """Cooling-failure sources, each with the minute of its first finding, over
    ``minutes`` at 0.2 C with the outlet over a 24 degC inlet, the chiller's set
    point (from minute ``excess_from``; 1 degC over it before)."""
    from models.detector import Detector
    from schemas.common import AnomalyKind

    det = Detector({})
    current = -0.2 * NMC_R3.nominal_ah  # C-rate squared 0.04: a healthy loop warms ~0.8 degC
    found: dict[str, float] = {}
    for k in range(0, 60 * minutes, 10):
        out_c = outlet if k >= 60 * excess_from else 25.0
        det.update(_frame(NMC_R3, 1, 1000.0 + k, current_a=np.array([current]),
                          outlet_c=np.array([out_c])))  # fmt: skip
        if k % 30 == 0:
            for x in det.score()[0]:
                if x.kind is AnomalyKind.COOLING_FAILURE:
                    found.setdefault(x.source, k / 60)
    return found


def test_coolant_rise_beyond_what_the_load_explains_is_a_cooling_failure() -> None:
    assert _coolant_findings(outlet=25.0) == {}
    assert set(_coolant_findings(outlet=28.0)) == {"physics-1"}  # 4 degC at a 0.8 degC load
    # 2.2 degC over the load: not at once, but once held for 15 minutes, counted
    # from when the pump has run 15 (so a warm-up replay rebuilds it) and judged
    # once the pack has settled (30 minutes); 1.2 degC over it never.
    assert _coolant_findings(outlet=26.0, minutes=90) == {}
    held = _coolant_findings(outlet=27.0, minutes=90)
    assert set(held) == {"physics-1"} and 30.0 <= held["physics-1"] <= 31.0
    # Starting at 30 minutes: the 5-minute average is 2 degC over the load from ~41.5
    # (5 ln 10 minutes on), the finding 15 minutes after that.
    late = _coolant_findings(outlet=27.0, minutes=90, excess_from=30)["physics-1"]
    assert 56.0 <= late <= 57.5


def test_a_coolant_excess_held_across_passes_restarts_after_a_gap() -> None:
    st = ThermalState(NMC_R3, None)
    r = np.array([0])

    def held(holds: bool, t: float) -> float:
        return float(st.coolant_excess_held_s(r, np.array([holds]), np.array([t]), 135.0)[0])

    assert [held(True, t) for t in (0.0, 30.0, 60.0)] == [0.0, 30.0, 60.0]
    assert held(False, 90.0) == 0.0 and held(True, 120.0) == 0.0  # broken: afresh
    assert held(True, 150.0) == 30.0 and held(True, 270.0) == 150.0  # three passes missing
    assert held(True, 420.0) == 0.0  # passes 150 s apart: a gap in the data
    assert held(True, 450.0) == 30.0
    assert held(True, 300.0) == 0.0  # a clock gone back starts afresh


def _insulation_peaks(kohm: list[float], every_s: float) -> list[float]:
    """ThermalState's insulation peak after each reading of ``kohm``, ``every_s`` apart."""
    st = ThermalState(NMC_R3, None)
    out = []
    for k, r in enumerate(kohm):
        st.update(_frame(NMC_R3, 1, 1_000_000.0 + k * every_s, insulation_kohm=np.array([r])))
        out.append(float(st.insulation_peak(np.array([0]))[0]))
    return out


def test_insulation_peak_is_the_last_days_highest_hour() -> None:
    t = np.arange(0, 40 * 3600, 300.0)  # 40 h, a reading every 5 minutes
    # A healthy day's humidity swing (+-12 %), then a fault falling to a quarter with a 5 h time
    # constant from hour 30: a peak that decayed over a day followed it down and never fell 40 %.
    healthy = 4800.0 * (1.0 - 0.12 * np.cos(2 * np.pi * t / 86400.0))
    fault = np.where(t >= 30 * 3600, 0.75 * (1 - np.exp(-(t - 30 * 3600) / 18000.0)), 0.0)
    peaks = np.array(_insulation_peaks(list(healthy * (1 - fault)), 300.0))
    ratio = healthy * (1 - fault) / peaks
    assert ratio[t < 30 * 3600].min() > 0.75  # the daily swing alone
    assert ratio[-1] < 0.5  # the fault, against the day's peak
    # The peak is the highest reading so far of this clock hour and the 23 before it.
    readings = healthy * (1 - fault)
    hour = np.floor((1_000_000.0 + t) / 3600.0)
    expected = [readings[: k + 1][hour[: k + 1] > h - 24].max() for k, h in enumerate(hour)]
    assert peaks.tolist() == expected
    assert peaks[-1] < healthy.max() - 1.0  # the swing's top has left the window
    # A missing reading keeps the peak, and so does a gap in the data (an hour here); a gap
    # of more than a day has cleared the window. A clock gone back two hours writes to its
    # own hour; gone back a day, it starts the window afresh.
    assert _insulation_peaks([5000.0, float("nan"), 4000.0], 60.0) == [5000.0, 5000.0, 5000.0]
    assert _insulation_peaks([5000.0, 4000.0], 3600.0) == [5000.0, 5000.0]
    assert _insulation_peaks([5000.0, 4000.0], 25 * 3600.0) == [5000.0, 4000.0]
    assert _insulation_peaks([5000.0, 4000.0, 6000.0], -7200.0) == [5000.0, 5000.0, 6000.0]
    assert _insulation_peaks([5000.0, 4000.0], -24 * 3600.0) == [5000.0, 4000.0]
    # The monitor's full scale says "at least": it is no peak (4,000 would be 6 % of it).
    assert _insulation_peaks([5000.0, 64255.0, 4000.0], 60.0) == [5000.0, 5000.0, 5000.0]
    assert np.isnan(_insulation_peaks([64255.0], 60.0)[0])


def test_a_seeded_insulation_ring_holds_the_stored_hours_of_the_day() -> None:
    """A restarted scorer replays minutes; the stored hours before them fill the day."""
    import pytest

    from models.detector import Detector
    from models.findings import Finding
    from schemas.common import AnomalyKind

    t0 = 1_000_000 * 3600.0  # on an hour
    st = ThermalState(NMC_R3, None)
    with pytest.raises(ValueError, match="after its first sample"):
        st.seed_insulation(0, np.array([1.0]), np.array([1.0]))
    st.update(_frame(NMC_R3, 1, t0 + 600.0, insulation_kohm=np.array([2000.0])))
    hour = t0 // 3600
    hours = hour - np.array([30.0, 24.0, 23.0, 5.0, 0.0, -1.0, 3.0])
    # 30 and 24 hours back have left the window; a later hour is not the pack's yet.
    seeds = np.array([9000.0, 8000.0, 4100.0, np.nan, 1500.0, 7000.0, 3900.0])
    st.seed_insulation(0, hours, seeds)
    st.seed_insulation(0, hour - np.array([2.0]), np.array([64255.0]))  # full scale: no peak
    ring = st.ins_hr[0]
    assert ring[int(hour % 24)] == 2000.0  # the hour's own reading is the higher
    assert ring[int((hour - 23) % 24)] == 4100.0 and ring[int((hour - 3) % 24)] == 3900.0
    assert np.isnan(ring).sum() == 21
    assert st.insulation_peak(np.array([0]))[0] == 4100.0
    # The hours pass on as if read here: 23 hours back leaves the window at the next hour.
    st.update(_frame(NMC_R3, 1, t0 + 3600.0, insulation_kohm=np.array([2000.0])))
    assert st.insulation_peak(np.array([0]))[0] == 3900.0

    # The detector merges a vehicle's seed after its first sample (a pack's first
    # sample starts an empty ring): a slow fall to half under way at the restart is
    # an insulation fault against the stored day, not against the replayed minutes.
    def findings(seed: bool) -> list[Finding]:
        det = Detector({})
        if seed:
            det.seed_insulation("V0", hour - np.arange(1.0, 6.0), np.full(5, 4000.0))
        out = []
        for k in range(0, 2100, 10):
            det.update(_frame(NMC_R3, 1, t0 + k, insulation_kohm=np.array([2000.0 - k / 10])))
            if k % 30 == 0:
                out += [x for x in det.score()[0] if x.kind is AnomalyKind.INSULATION_FAULT]
        return out

    assert findings(seed=False) == []
    found = findings(seed=True)
    assert found and found[0].evidence["daily_peak_kohm"] == 4000.0
