"""SoH features and models on synthetic packs whose answers are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.chemistry import LFP, NMC, CellChemistry, r_to_25c, soc_from_ocv
from models.onnx_io import load
from models.soh import SOH_FEATURES, SohWindow, resistance_ratio, weak_cells
from models.soh_model import fit_soh_models
from models.stats import median
from schemas.fleet import LFP_CALB_R1, NMC_R3, PackDesign


def _pack(
    design: PackDesign, chem: CellChemistry, phases: list[tuple[float, float]], soc0: float,
    weak: float = 1.0, r_ohm: float | None = None, temp_c: float = 25.0, dt: float = 1.0,
) -> SohWindow:  # fmt: skip
    """Feed a window with ``phases`` of (seconds, current A; + = charging), a sample every ``dt`` s.

    Every cell follows the lab OCV, the hysteresis, R0 and both RC pairs; cell 7
    has ``weak`` times the capacity of the others.
    """
    n, q = design.cells_series, design.nominal_ah
    cap = np.full(n, q)
    cap[7] *= weak
    r = chem.r0_ohm if r_ohm is None else r_ohm
    arr = float(np.exp(chem.r_activation_k * (1 / (temp_c + 273.15) - 1 / 298.15)))
    a1, a2 = np.exp(-dt / chem.tau1_s), np.exp(-dt / chem.tau2_s)
    soc, hyst, t, v1, v2 = np.full(n, soc0), -1.0, 0.0, 0.0, 0.0
    w = SohWindow(design)
    for seconds, current in phases:
        for _ in range(int(seconds / dt)):
            t += dt
            soc = soc + current * dt / 3600.0 / cap
            if current:
                s = np.sign(current)
                decay = np.exp(-chem.hysteresis_rate * abs(current) * dt / 3600.0 / q)
                hyst = s + (hyst - s) * decay
            v1 = v1 * a1 + current * chem.r1_ohm * arr * (1.0 - a1)
            v2 = v2 * a2 + current * chem.r2_ohm * arr * (1.0 - a2)
            ocv = np.interp(soc, chem.ocv_soc, chem.ocv_v)
            v = ocv + chem.hysteresis_v * hyst + current * r + v1 + v2
            w.append(t, current, v, temp_c)
    return w


def test_capacity_of_the_weakest_cell_between_rest_and_idle_anchors_nmc() -> None:
    # Idle on auxiliaries at 30 % SoC, charge 0.6 x 360 Ah at 100 A, rest at 90 %.
    q = NMC_R3.nominal_ah
    hours = 0.6 * q / 100.0
    w = _pack(NMC_R3, NMC, [(3600, -60.0), (1800, -15.0), (hours * 3600, 100.0), (1800, 0.0)],
              soc0=0.45, weak=0.9)  # fmt: skip
    f = dict(zip(SOH_FEATURES, w.features().features, strict=True))
    assert f["has_capacity"] == 1.0
    assert f["capacity_ratio"] == pytest.approx(0.9, abs=0.01)  # the weak cell limits the pack
    assert f["mean_capacity_ratio"] == pytest.approx(1.0, abs=0.01)
    assert f["delta_soc"] == pytest.approx(0.6, abs=0.02)


def test_lfp_plateau_rests_are_not_anchors() -> None:
    # Rests at 40 % and 70 % SoC lie on the LFP plateau: no capacity may come of them.
    w = _pack(LFP_CALB_R1, LFP, [(1800, 0.0), (3600, 84.0), (1800, 0.0)], soc0=0.4)
    assert len(w.anchors) == 2
    f = dict(zip(SOH_FEATURES, w.features().features, strict=True))
    assert f["has_capacity"] == 0.0 and f["delta_soc"] == 0.0
    ocv_97 = float(np.interp(0.97, LFP.ocv_soc, LFP.ocv_v))
    assert float(soc_from_ocv(LFP, ocv_97)) > LFP.anchor_high


def test_lfp_anchors_near_both_ends_give_its_capacity() -> None:
    q = LFP_CALB_R1.nominal_ah
    # 30 % -> 10 % on load and auxiliaries, then a depot charge to 95 % and a rest.
    w = _pack(LFP_CALB_R1, LFP, [(4500, -40.0), (1800, -12.0), (0.85 * q / 140.0 * 3600, 140.0),
              (1800, 0.0)], soc0=0.3, weak=0.95)  # fmt: skip
    f = dict(zip(SOH_FEATURES, w.features().features, strict=True))
    assert f["has_capacity"] == 1.0
    assert f["capacity_ratio"] == pytest.approx(0.95, abs=0.01)


def test_a_gap_under_load_drops_the_anchors_before_it() -> None:
    w = _pack(NMC_R3, NMC, [(1800, 0.0), (600, -80.0)], soc0=0.6)
    assert len(w.anchors) == 1
    w.append(w.last_bucket * 30.0 + 600.0, -80.0, np.full(NMC_R3.cells_series, 3.7), 25.0)
    assert w.anchors == []


def test_r0_from_steps_out_of_a_steady_current_at_any_sample_rate() -> None:
    # Standing on auxiliaries, then the charger: a clean step, whether sampled at
    # 1 Hz (the bus) or every 30 s (the training fleets). R0 = 0.6 mOhm, at 35 degC.
    warm = float(np.exp(NMC.r_activation_k * (1 / 308.15 - 1 / 298.15)))
    for dt in (1.0, 30.0):
        w = _pack(NMC_R3, NMC, [(1800, -10.0), (600, 150.0)], soc0=0.5, r_ohm=0.6e-3 * warm,
                  temp_c=35.0, dt=dt)  # fmt: skip
        t, i, v, temp = w.series()[:, :4].T
        res = resistance_ratio(NMC, t, i, v, temp, NMC_R3.nominal_ah, list(w.steps))
        # Over 30 s the OCV and the hysteresis move a little too: a few % more.
        assert res.ratio * NMC.r0_ohm == pytest.approx(0.6e-3, rel=0.005 if dt == 1.0 else 0.05)
        assert res.step_temp_c == 35.0
    assert abs(float(r_to_25c(NMC, 0.6e-3 * warm, 35.0)) - 0.6e-3) < 1e-12


def test_weak_cells_from_end_of_charge_and_discharge_spread_and_capacity() -> None:
    eoc = np.zeros(176)
    eoc[17] = 0.060  # reaches the top first: low capacity
    eod = np.zeros(176)
    eod[90] = -0.080  # reaches the bottom first
    eod[91] = -0.010  # ordinary spread
    assert weak_cells("NMC", eoc, eod) == [17, 90]
    assert weak_cells("LFP", None, None) == []
    cap = np.full(176, 300.0)
    cap[5] = 240.0  # 20 % below the median cell
    cap[6] = 270.0  # 10 %: within what ageing alone spreads
    assert weak_cells("NMC", None, None, cap) == [5]


def test_soh_models_add_the_physics_estimate_or_fall_back_on_resistance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 80
    x = np.zeros((n, len(SOH_FEATURES)), dtype=np.float32)
    col = {name: k for k, name in enumerate(SOH_FEATURES)}
    soh = rng.uniform(60, 100, n).astype(np.float32)
    growth = 1.6 * (100 - soh)
    x[:, col["resistance_ratio"]] = 1.3 + growth / 100
    x[:, col["has_capacity"]] = (np.arange(n) % 4 != 0).astype(np.float32)
    x[:, col["capacity_ratio"]] = (soh + rng.normal(0, 0.3, n)) / 100
    groups = np.arange(n) % 40
    fit_soh_models(x, soh, growth.astype(np.float32), groups, tmp_path, {"version": "t"})
    q = {m: load(m, SOH_FEATURES, tmp_path).run(x).reshape(-1)
         for m in ("soh_q10", "soh_q50", "soh_q90", "resistance")}  # fmt: skip
    has = x[:, col["has_capacity"]] > 0
    assert np.all(q["soh_q10"] <= q["soh_q50"]) and np.all(q["soh_q50"] <= q["soh_q90"])
    assert np.abs(q["soh_q50"][has] - 100 * x[has, col["capacity_ratio"]]).max() < 0.5
    assert np.abs(q["soh_q50"][~has] - soh[~has]).mean() < 1.0
    assert np.abs(q["resistance"] - growth).mean() < 0.5


def test_median_has_the_bits_of_np_median() -> None:
    rng = np.random.default_rng(3)
    for k in range(3000):
        n = int(rng.integers(1, 60))
        # Signed zeros, infinities and NaN where np.median's own arithmetic shows.
        x = rng.choice([0.0, -0.0, 1.0, -1.0, 3.6, np.inf, -np.inf], n)
        if k % 5 == 0:
            x = rng.normal(3.6, 0.01, n).round(3)
        if k % 11 == 0:
            x[rng.integers(n)] = np.nan
        with np.errstate(invalid="ignore"):  # -inf + inf in the middle pair
            want = np.median(x)
            got = np.float64(median(x))
        assert got.tobytes() == want.tobytes() or (np.isnan(got) and np.isnan(want))
