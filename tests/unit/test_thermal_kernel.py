"""The compiled thermal update (models/thermal_kernel.py) against its numpy statement.

``_advance`` below is the update as numpy expressions over (packs, sensors) and
(packs, cells) arrays: the readable statement of what the kernels compute, and
the oracle they are held to bit for bit (every state array, the expected
model's inputs, training's records) over frames that take every branch:
new packs, restarts after a gap, open and never-read sensors, missing scalar
readings, packs out of row order. A change to the update changes both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pytest

from models import thermal_kernel as kernel
from models.frame import Frame
from models.limits import OPEN_SENSOR_C
from models.stats import row_median
from models.thermal import (
    _FIELDS,
    BASE_STEP_C,
    BASE_STEP_MOHM,
    CHILLER_SHORT_C,
    COUNT_STEP_MAX_S,
    EXPECTED_FEATURES,
    INLET_OFF_C,
    INS_HOURS,
    MAX_GAP_S,
    POWERED_A,
    PUMPING_SETTLE_S,
    TAU_BASE,
    TAU_FAST,
    TAU_MED,
    TAU_SLOW,
    TAU_VSLOW,
    ThermalState,
    _nan_to,
    _r_excess,
)
from schemas.cooling import LOOP
from schemas.fleet import LFP_CALB_R1, NMC_R3, PackDesign

F64 = npt.NDArray[np.float64]


def _alpha(dt: F64, tau: float) -> F64:
    out: F64 = 1.0 - np.exp(-dt / tau)
    return out


def _nb_median(x: F64) -> F64:
    """Median of the two neighbours on each side (edges reflected), self excluded."""
    # The reflected padding np.pad(mode="reflect") would give, built by slicing:
    # np.pad's own overhead outweighs the arithmetic for a frame of a few packs.
    p = np.concatenate([x[:, 2:0:-1], x, x[:, -2:-4:-1]], axis=1)
    s = x.shape[1]
    a, b, c, d = p[:, 0:s], p[:, 1 : s + 1], p[:, 3 : s + 3], p[:, 4 : s + 4]
    # The middle two of four without a sort: the larger of the pairs' minima and
    # the smaller of their maxima.
    lo = np.maximum(np.minimum(a, b), np.minimum(c, d))
    hi = np.minimum(np.maximum(a, b), np.maximum(c, d))
    out: F64 = 0.5 * (lo + hi)
    return out


def _follow(base: F64, x: F64, limit: float, pull: F64, init: npt.NDArray[np.bool_] | None) -> None:
    """A robust baseline's step, in place: base + pull * clip(x - base, -limit, limit),
    and ``x`` itself in the rows of ``init`` (restarted packs)."""
    step = np.subtract(x, base)
    np.clip(step, -limit, limit, out=step)
    np.multiply(pull, step, out=step)
    np.add(base, step, out=base)
    if init is not None:
        np.copyto(base, x, where=init)


def _expected_x(
    st: ThermalState, tc: F64, amb: F64, i2_s: F64, i2_f: F64, cdt: F64
) -> npt.NDArray[np.float32]:
    p, s = tc.shape
    x = np.empty((p, s, len(EXPECTED_FEATURES)), dtype=np.float32)
    x[..., 0] = tc
    x[..., 1] = amb[:, None] - tc
    x[..., 2] = i2_s[:, None]
    x[..., 3] = i2_f[:, None]
    x[..., 4] = cdt[:, None]
    x[..., 5] = st.position[None, :]
    x[..., 6] = st.is_lfp
    return x


def _advance(st: ThermalState, f: Frame, v: SimpleNamespace) -> None:
    """The numpy update of the state rows ``v`` (gathered) of ``f``'s packs, in place."""
    ts = f.ts_s
    new = ~v.seen
    dt = np.where(new, 0.0, np.clip(ts - v.last_ts, 0.0, None))
    restart = new | (dt > MAX_GAP_S)
    # Without a restart (the usual pass) every np.where(init, ...) below is
    # the identity, and is skipped.
    any_restart = bool(restart.any())
    if any_restart:
        dt = np.where(restart, 0.0, dt)
        np.copyto(v.first_ts, ts, where=restart)
    d1 = dt[:, None]
    init = restart[:, None]
    alphas: dict[tuple[float, int], F64] = {}

    def ew(old: F64, x: F64, tau: float, d: F64 = d1, i: npt.NDArray[np.bool_] = init) -> None:
        """Advance the average ``old`` toward ``x`` in place: old + a (x - old)."""
        key = (tau, d.ndim)
        a = alphas.get(key)
        if a is None:
            a = alphas[key] = _alpha(d, tau)
        t = np.subtract(x, old)
        np.multiply(a, t, out=t)
        np.add(old, t, out=old)
        if any_restart:
            np.copyto(old, x, where=i)

    d0, i0 = dt, restart
    nom = st.design.nominal_ah
    crate2 = (f.current_a / nom) ** 2
    ew(v.i2_s, crate2, TAU_SLOW, d0, i0)
    ew(v.i2_f, crate2, TAU_MED / 2, d0, i0)

    valid = f.temps > OPEN_SENSOR_C
    if any_restart:
        hold = np.where(valid, f.temps, np.where(init, np.nan, v.t_hold))
    else:
        hold = np.where(valid, f.temps, v.t_hold)
    # A sensor that has never read a value borrows its neighbours' median.
    missing = np.isnan(hold)
    if missing.any():
        hold = np.where(missing, _nb_median(np.nan_to_num(hold, nan=25.0)), hold)
    step = np.subtract(hold, v.t_hold)
    np.abs(step, out=step)
    if any_restart:
        step[restart] = 0.0
    ew(v.drop, (~valid).astype(np.float64), TAU_MED)
    ew(v.stuck_a, step, TAU_SLOW)
    ew(v.stuck_b, _nb_median(step), TAU_SLOW)
    v.t_hold[...] = hold
    ew(v.t_f, hold, TAU_FAST)
    ew(v.t_s, hold, TAU_MED)

    inlet = _nan_to(f.inlet_c, 25.0)
    outlet = _nan_to(f.outlet_c, 25.0)
    amb = _nan_to(f.ambient_c, 30.0)
    cdt = outlet - inlet
    ew(v.cdt, cdt, TAU_MED / 2, d0, i0)
    tc = inlet[:, None] + cdt[:, None] * st.position[None, :]
    if st.expected is not None or st.recorded is not None:
        x = _expected_x(st, tc, amb, v.i2_s, v.i2_f, cdt)
    res = hold - tc
    if st.expected is not None:
        out = st.expected(x.reshape(-1, x.shape[-1]))
        res -= out.reshape(tc.shape).astype(np.float64)
    if st.recorded is not None:
        ok = valid & ~init
        st.recorded.append((x[ok], (hold - tc)[ok]))
    ew(v.res_f, res, TAU_FAST)
    ew(v.res_s, res, TAU_SLOW)
    # Each sensor's own calibration offset shows as a constant local residual:
    # a robust baseline learns it (steps clipped, so a fault barely moves it)
    # and the features use the departure from it.
    raw = v.res_f - _nb_median(v.res_f)
    age = np.clip(2.0 * (ts - v.first_ts), TAU_SLOW, TAU_BASE)[:, None]
    # The baselines' pull this sample (that of the cells' resistance too).
    pull = np.exp(-d1 / age)
    np.subtract(1.0, pull, out=pull)
    _follow(v.loc_b, raw, BASE_STEP_C, pull, init if any_restart else None)
    loc = np.subtract(raw, v.loc_b, out=raw)
    v.loc_f[...] = loc
    ew(v.loc_s, loc, TAU_SLOW)
    pres = v.res_f.mean(axis=1)
    ew(v.pres_s, pres, TAU_SLOW, d0, i0)
    ew(v.pres_m, pres, TAU_MED, d0, i0)
    _cooling_loop(f, v, dt, restart, valid, ew)

    # Per-cell voltage deviation from the pack median, its steps regressed on
    # the current's steps: E[d(dv) dI] / E[dI^2] is the cell's extra series
    # resistance. Steps, not levels: near the ends of the OCV curve the cells'
    # capacity spread moves their deviations with the charge they pass, which
    # a regression of levels on current mistakes for resistance (tens of mV
    # over a charge); from one sample to the next that drift is negligible.
    i = f.current_a
    dv = np.subtract(f.cell_v, row_median(f.cell_v))
    di = i - v.i_prev
    ddv = dv - v.dv_prev
    if any_restart:
        di[restart] = 0.0
        ddv[restart] = 0.0
    ew(v.e_ii, di * di, TAU_SLOW, d0, i0)
    np.multiply(ddv, di[:, None], out=ddv)
    ew(v.e_dvi, ddv, TAU_SLOW)
    v.i_prev[...] = i
    v.dv_prev[...] = dv
    rex = _r_excess(v.e_ii, v.e_dvi)
    # Aged cells differ in resistance for good; a loose joint is a change. A
    # robust baseline per cell (steps clipped) keeps the first out of the features.
    _follow(v.rex_b, rex, BASE_STEP_MOHM, pull, init if any_restart else None)
    # dv - rex * 1e-3 * i, in that order of operations.
    np.multiply(rex, 1e-3, out=rex)
    np.multiply(rex, i[:, None], out=rex)
    dvc = np.subtract(dv, rex, out=dv)
    ew(v.dvc_q, dvc, TAU_FAST)
    ew(v.dvc_f, dvc, TAU_MED)
    ew(v.dvc_s, dvc, TAU_VSLOW)

    # The insulation's peak over the last day: the highest reading of each
    # clock hour in a ring, the hours passed since the pack's latest hour
    # cleared; an earlier hour still in the window takes its own slot; all of
    # it cleared for a pack seen first, or whose clock went back a day or more.
    hour = np.floor(ts / 3600.0)
    for k in range(len(ts)):
        ahead = hour[k] - v.ins_hour[k] if v.seen[k] else INS_HOURS
        if ahead > 0 or ahead <= -INS_HOURS:
            passed = int(ahead) if 0 < ahead < INS_HOURS else INS_HOURS
            for h in range(passed):
                v.ins_hr[k, int((hour[k] - h) % INS_HOURS)] = np.nan
            v.ins_hour[k] = hour[k]
        j = int(hour[k] % INS_HOURS)
        v.ins_hr[k, j] = np.fmax(v.ins_hr[k, j], f.insulation_kohm[k])
    v.last_ts[...] = ts
    v.seen[...] = True


def _cooling_loop(
    f: Frame,
    v: SimpleNamespace,
    dt: F64,
    restart: npt.NDArray[np.bool_],
    valid: npt.NDArray[np.bool_],
    ew: Callable[[F64, F64, float, F64, npt.NDArray[np.bool_]], None],
) -> None:
    """Powered time, how long the chiller has fallen short of its duty, and how
    long the inlet has been far from both inlets the loop's specification gives.

    The chiller is surely running when three sensors read 2 degC over its
    start temperature (one hot or drifting sensor does not count); then a
    working one holds the inlet at max(set point, outlet - its pull) within
    a few inlet time constants (90 s). An inlet well above that, for as long
    as the chiller is demanded, is a chiller or radiator fan that has failed.
    Whether or not it is demanded, a working loop's inlet follows either the
    chiller's inlet or the radiator's, outlet + share * (ambient - outlet).
    """
    powered = (np.abs(_nan_to(f.current_a, 0.0)) >= POWERED_A).astype(np.float64)
    ew(v.pwr, powered, TAU_FAST, dt, restart)
    on = v.pwr >= 0.5
    v.on_s[...] = np.where(on & ~restart, v.on_s + dt, 0.0)
    third = np.partition(np.where(valid, f.temps, -np.inf), -3, axis=1)[:, -3]
    want = np.maximum(LOOP.chiller_setpoint_c, f.outlet_c - LOOP.chiller_pull_c)
    with np.errstate(invalid="ignore"):
        short = (third >= LOOP.chiller_on_above_c + 2.0) & (f.inlet_c - want >= CHILLER_SHORT_C)
    short &= on
    step = np.minimum(dt, COUNT_STEP_MAX_S)  # a gap in the data is no evidence
    _leaky(v.chill_s, short, step, restart)
    a = _alpha(dt, LOOP.inlet_tau_s)
    rad = f.outlet_c + LOOP.radiator_share * (f.ambient_c - f.outlet_c)
    for state, x in ((v.in_chill, want), (v.in_rad, rad)):
        moved = state + a * (x - state)
        known = np.where(restart | np.isnan(state), x, moved)
        state[...] = np.where(np.isnan(x), np.where(restart, x, state), known)
    with np.errstate(invalid="ignore"):
        off = np.minimum(np.abs(f.inlet_c - v.in_chill), np.abs(f.inlet_c - v.in_rad))
        is_off = (off >= INLET_OFF_C) & (v.on_s >= PUMPING_SETTLE_S)
    # Without this sample's three temperatures the count holds.
    known = np.isfinite(f.inlet_c) & np.isfinite(f.outlet_c) & np.isfinite(f.ambient_c)
    held = v.inlet_off_s.copy()
    _leaky(v.inlet_off_s, is_off, step, restart)
    np.copyto(v.inlet_off_s, held, where=~(known | restart))


def _leaky(count: F64, hit: npt.NDArray[np.bool_], dt: F64, restart: npt.NDArray[np.bool_]) -> None:
    """A leaky count of seconds, in place: a sample or two at the boundary (a
    quantised inlet, a coasting moment) does not restart it; a working loop
    empties it fast."""
    out = np.where(hit, count + dt, np.maximum(count - 3.0 * dt, 0.0))
    count[...] = np.where(restart, 0.0, out)


def _reference_update(st: ThermalState, f: Frame) -> None:
    """The numpy update of ``f``'s packs: their state rows gathered, advanced, scattered back."""
    r = st.rows_of(f.vehicle_ids)
    v = SimpleNamespace(**{name: getattr(st, name)[r] for name in _FIELDS})
    _advance(st, f, v)
    for name in _FIELDS:
        getattr(st, name)[r] = getattr(v, name)


def _expected_fn(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A stand-in for expected.onnx: linear in the inputs, in float32 as onnxruntime returns."""
    w = np.linspace(-0.3, 0.4, len(EXPECTED_FEATURES), dtype=np.float32)
    out: npt.NDArray[np.float32] = x @ w + np.float32(0.2)
    return out


def _frames(design: PackDesign, seed: int, steps: int) -> list[Frame]:
    """Frames of 12 packs that take every branch of the update."""
    rng = np.random.default_rng(seed)
    n, s, c = 12, design.temp_sensors, design.cells_series
    ids = [f"V{k:02d}" for k in range(n)]
    t = np.full(n, 1_000_000.0)
    frames = []
    for step in range(steps):
        t = t + rng.choice([1.0, 1.0, 5.0, 30.0, 120.0], n)  # 120: over a count's step
        if step % 40 == 39:
            t[rng.integers(n)] += MAX_GAP_S + 60.0  # a gap: the pack restarts
        # The insulation ring: hours passed across its end, five of them, more
        # than a day of them, and a clock that goes back two hours, and a day and more.
        jump = {
            60: (6, 11 * 3600.0),
            80: (3, 5 * 3600.0),
            100: (4, 30 * 3600.0),
            120: (5, -7200.0),
            130: (7, -30 * 3600.0),
        }
        if step in jump:
            k, by = jump[step]
            t[k] += by
        cur = rng.normal(-30.0, 80.0, n).round(2)
        temps = np.round(28.0 + rng.normal(0, 2.0, (n, s)) + 0.05 * step)
        temps[rng.random((n, s)) < 0.02] = -40.0  # open sensors
        if step < 3:
            temps[0, :3] = -40.0  # never read yet: borrows its neighbours' median
        cell_v = np.round(3.30 + rng.normal(0, 0.004, (n, c)) + 1e-4 * cur[:, None], 3)
        inlet = np.round(24.0 + rng.normal(0, 1.0, n))
        outlet = inlet + np.round(rng.uniform(0, 5, n))
        ambient = np.full(n, 33.0)
        ins = rng.uniform(800, 5000, n)
        for arr in (cur, inlet, outlet, ambient, ins):
            arr[rng.random(n) < 0.05] = np.nan  # missing readings
        cell_v[rng.random(n) < 0.02, 7] = np.nan
        if step == 150:
            ambient[1], inlet[2] = np.inf, -np.inf  # nan_to_num's other half
        # Some rounds hold only part of the fleet, out of row order.
        take = rng.permutation(n)[: rng.integers(4, n + 1)] if step % 3 == 2 else np.arange(n)
        f = Frame(design.design_id, ids, t.copy(), cur, cell_v, temps, inlet, outlet, ambient, ins)
        frames.append(f.take(take))
    return frames


def _bits(x: np.ndarray | np.float64 | float) -> bytes:
    return np.ascontiguousarray(x, dtype=np.float64).tobytes()


@pytest.mark.parametrize("design", [NMC_R3, LFP_CALB_R1], ids=lambda d: d.design_id)
@pytest.mark.parametrize("with_model", [True, False])
def test_kernels_give_numpys_numbers_bit_for_bit(design: PackDesign, with_model: bool) -> None:
    model = _expected_fn if with_model else None
    compiled, reference = ThermalState(design, model), ThermalState(design, model)
    compiled.recorded, reference.recorded = [], []
    # An infinite reading makes inf - inf in numpy's expressions: the same NaN, warned of.
    with np.errstate(invalid="ignore", over="ignore"):
        for f in _frames(design, seed=5, steps=160):
            compiled.update(f)
            _reference_update(reference, f)
    assert compiled.rows == reference.rows
    for name in _FIELDS:
        a, b = getattr(compiled, name), getattr(reference, name)
        assert _bits(a) == _bits(b), name
    for (xa, ya), (xb, yb) in zip(compiled.recorded, reference.recorded, strict=True):
        assert _bits(xa) == _bits(xb) and _bits(ya) == _bits(yb)
    # The run went through the branches it is meant to cover.
    peaks = reference.insulation_peak(np.arange(reference._n))
    assert np.isnan(peaks).sum() == 0 and (reference.chill_s >= 0).all()
    assert (reference.inlet_off_s > 0).any()  # pumping long enough, an inlet astray
    assert (reference.first_ts[: reference._n] > 1_000_000.0).any()  # restarted packs
    hours = np.isfinite(reference.ins_hr[: reference._n]).sum(axis=1)
    assert hours.max() >= 2 and hours.min() >= 1  # hours rolled over, and each pack has a peak


def test_compiled_median_and_row_sum_are_numpys() -> None:
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 3, 7, 8, 9, 44, 48, 128, 129, 176, 192, 203, 1000):
        for quantum in (1e-3, 0.5, 0.0):
            x = rng.normal(3.3, 0.01, n)
            if quantum:
                x = np.round(x / quantum) * quantum  # many equal values
            if n:
                assert _bits(kernel.median(x)) == _bits(row_median(x[None, :])[0, 0])
            assert _bits(kernel.row_sum(x)) == _bits(np.add.reduce(x))
        zeros = np.full(n, -0.0)  # signed zeros: numpy's reductions start from +0.0
        assert _bits(np.float64(kernel.row_sum(zeros))) == _bits(np.add.reduce(zeros))
        if n:
            assert _bits(np.float64(kernel.median(zeros))) == _bits(
                row_median(zeros[None, :])[0, 0]
            )
            x[n // 2] = np.nan
            assert np.isnan(kernel.median(x))
    assert np.isnan(kernel.median(np.empty(0)))


def test_a_pack_with_fewer_than_three_sensors_is_refused_not_read_past() -> None:
    design = dataclasses.replace(NMC_R3, temp_sensors=2)
    frame = _frames(NMC_R3, seed=1, steps=1)[0]
    frame.temps = frame.temps[:, :2].copy()
    with pytest.raises(ValueError, match="at least 3 temperature sensors"):
        ThermalState(design, None).update(frame)


def test_a_frame_with_one_pack_twice_is_refused() -> None:
    frame = _frames(NMC_R3, seed=2, steps=1)[0]
    frame.vehicle_ids = [frame.vehicle_ids[0]] * frame.n
    with pytest.raises(ValueError, match="one sample per pack"):
        ThermalState(NMC_R3, None).update(frame)
