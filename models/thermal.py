"""Per-pack thermal and voltage state: expected temperatures, residuals, rates, evidence.

:class:`ThermalState` keeps constant-size state per pack (exponentially weighted
means with time constants in seconds, so the same code works at the bus's 1 s
cadence and on coarser simulated steps). Each :meth:`ThermalState.update` takes
one :class:`~models.frame.Frame` and advances every pack in it at once.

Two levels of residual, because the faults differ in reach:

- pack level: every sensor against the expected-temperature model (local
  coolant temperature, ambient, the EWMA of C-rate squared), which sees a
  cooling failure as the whole pack running warmer than its load explains;
- local: a sensor's residual minus the median of its neighbours' (two each
  side), which cancels everything the pack shares and leaves what is local to
  one sensor: a self-heating cell, a hot connection, or a faulty sensor.

Voltage evidence tells heating cells from faulty sensors: a loose connection
adds a resistance in series with one cell tap (its voltage moves with the
current), an internal short drains its cell (its voltage falls behind its
neighbours); a sensor fault leaves every voltage alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from models.chemistry import chemistry
from models.frame import Frame
from models.limits import OPEN_SENSOR_C
from models.stats import row_median
from schemas.cooling import LOOP
from schemas.fleet import PackDesign

F64 = npt.NDArray[np.float64]
IDX = npt.NDArray[np.intp]

#: Inputs of the expected-temperature model, per sensor (the target is T - local coolant).
EXPECTED_FEATURES = (
    "coolant_local_c",
    "ambient_minus_coolant_c",
    "crate2_slow",
    "crate2_fast",
    "coolant_dt_c",
    "position",
    "is_lfp",
)

#: Inputs of the per-sensor anomaly model.
SENSOR_FEATURES = (
    "residual_c",
    "local_c",
    "local_slow_c",
    "local_rate_c",
    "neighbour_local_max_c",
    "stuck_score",
    "dropout_share",
    "r_excess_mohm",
    "v_drain_mv",
    "crate2_slow",
    "pack_residual_c",
    "above_coldest_c",
    "temp_rate_c",
    "is_lfp",
)

#: Inputs of the per-pack anomaly model (cooling failure).
PACK_FEATURES = (
    "pack_residual_c",
    "pack_residual_slow_c",
    "pack_residual_rate_c",
    "coolant_dt_c",
    "inlet_minus_ambient_c",
    "inlet_c",
    "crate2_slow",
    "max_minus_inlet_c",
    "mean_minus_inlet_c",
    "is_lfp",
)

ExpectedFn = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]

# Time constants (s). Slow: about the thermal time constant of a cell on its
# plate (m*cp/hA = 5.4 kg * 1000 J/kgK / 2.6 W/K ~ 35 min).
TAU_FAST, TAU_MED, TAU_SLOW, TAU_VSLOW = 60.0, 600.0, 1800.0, 7200.0
TAU_BASE = 6 * 3600.0  # calibration-offset baseline of each sensor's local residual
BASE_STEP_C = 0.3  # largest deviation one sample may pull that baseline by
BASE_STEP_MOHM = 0.1  # the same for each cell's resistance baseline
#: History a pack needs before the models judge it: the slow averages settle.
SETTLE_S = 1800.0
MAX_GAP_S = 600.0  # a longer gap restarts a pack's averages: old state says nothing now
#: Pack current (either sign) above which the bus is powered: its auxiliaries
#: alone draw 2.5 kW (~4 A at 650 V); a parked pack reads its offset and noise (< 1.5 A).
POWERED_A = 2.0
#: Inlet above what a working chiller would reach that counts as a shortfall:
#: more than two DBC steps, so quantisation alone never makes one.
CHILLER_SHORT_C = 2.5


def _alpha(dt: F64, tau: float) -> F64:
    out: F64 = 1.0 - np.exp(-dt / tau)
    return out


def _nan_to(x: F64, fill: float) -> F64:
    """``np.nan_to_num(x, nan=fill)``: ``x`` itself when all finite (the usual case).

    np.nan_to_num costs five times a finiteness check on a frame's scalars.
    The result is only read, never written, so it may be ``x``.
    """
    if np.isfinite(x).all():
        return x
    out: F64 = np.nan_to_num(x, nan=fill)
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


#: Per-pack state arrays: (packs, sensors), (packs, cells), (packs,).
_FIELDS_PS = ("t_hold", "drop", "res_f", "res_s", "loc_f", "loc_s", "loc_b", "stuck_a",
              "stuck_b", "t_f", "t_s")  # fmt: skip
_FIELDS_PC = ("dv_prev", "e_dvi", "dvc_f", "dvc_s", "rex_b")
_FIELDS_P = ("last_ts", "first_ts", "i2_s", "i2_f", "i_prev", "e_ii", "cdt", "ins_peak",
             "pres_s", "pres_m", "pwr", "on_s", "chill_s")  # fmt: skip
_FIELDS = (*_FIELDS_PS, *_FIELDS_PC, *_FIELDS_P, "seen")


class _StateArrays:
    """The per-pack state arrays (see :data:`_FIELDS`), rows being packs."""

    t_hold: F64
    drop: F64
    res_f: F64
    res_s: F64
    loc_f: F64
    loc_s: F64
    loc_b: F64
    stuck_a: F64
    stuck_b: F64
    t_f: F64
    t_s: F64
    dv_prev: F64
    e_dvi: F64
    dvc_f: F64
    dvc_s: F64
    rex_b: F64
    last_ts: F64
    first_ts: F64
    i2_s: F64
    i2_f: F64
    i_prev: F64
    e_ii: F64
    cdt: F64
    ins_peak: F64
    pres_s: F64
    pres_m: F64
    pwr: F64
    on_s: F64
    chill_s: F64
    seen: npt.NDArray[np.bool_]


class _Rows(_StateArrays):
    """The state arrays of the packs of one update: views of a contiguous run of
    rows (written in place), or copies gathered from scattered rows (scattered
    back afterwards)."""

    def __init__(self, state: ThermalState, ix: slice | IDX) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(state, name)[ix])


def _follow(base: F64, x: F64, limit: float, pull: F64, init: npt.NDArray[np.bool_] | None) -> None:
    """A robust baseline's step, in place: base + pull * clip(x - base, -limit, limit),
    and ``x`` itself in the rows of ``init`` (restarted packs)."""
    step = np.subtract(x, base)
    np.clip(step, -limit, limit, out=step)
    np.multiply(pull, step, out=step)
    np.add(base, step, out=base)
    if init is not None:
        np.copyto(base, x, where=init)


def _r_excess(e_ii: F64, e_dvi: F64) -> F64:
    """:meth:`ThermalState.r_excess` of the packs with these averages."""
    var = np.maximum(e_ii, 1.0)[:, None]
    # Charging current is positive, and a resistance raises the tap voltage
    # when charging: R = E[d(dV) dI] / E[dI^2]. Only trust it with current steps.
    out: F64 = np.multiply(1e3, e_dvi)
    np.divide(out, var, out=out)
    trusted = var > 100.0
    if not trusted.all():
        out[~trusted[:, 0]] = 0.0
    return out


class ThermalState(_StateArrays):
    """State of every pack of one design; rows are assigned by the caller (see :meth:`row`).

    The per-pack arrays are allocated by _alloc: (packs, sensors), (packs, cells), (packs,).
    """

    def __init__(self, design: PackDesign, expected: ExpectedFn | None, capacity: int = 16) -> None:
        self.design = design
        self.chem = chemistry(design)
        self.expected = expected
        self.s, self.c = design.temp_sensors, design.cells_series
        groups = design.sensor_cells()
        self.sensor_start = np.array([g[0] for g in groups], dtype=np.intp)
        self.cell_sensor = np.repeat(np.arange(self.s), [len(g) for g in groups])
        self.position = (np.arange(self.s) + 0.5) / self.s
        self.is_lfp = 1.0 if design.chemistry == "LFP" else 0.0
        self.rows: dict[str, int] = {}
        self._n = 0
        # Training collects the expected model's (inputs, target) here when set.
        self.recorded: list[tuple[npt.NDArray[np.float32], F64]] | None = None
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        s, c = self.s, self.c
        old = dict(self.__dict__)
        for name in _FIELDS_PS:
            self.__dict__[name] = np.zeros((cap, s))
        for name in _FIELDS_PC:
            self.__dict__[name] = np.zeros((cap, c))
        for name in _FIELDS_P:
            self.__dict__[name] = np.zeros(cap)
        self.seen = np.zeros(cap, dtype=np.bool_)
        for name in _FIELDS:
            if name in old and isinstance(old[name], np.ndarray):
                self.__dict__[name][: len(old[name])] = old[name]
        self.cap = cap

    def row(self, vehicle_id: str) -> int:
        """The state row of ``vehicle_id``, allocated on first sight."""
        r = self.rows.get(vehicle_id)
        if r is None:
            r = self._n
            self._n += 1
            if r >= self.cap:
                self._alloc(self.cap * 2)
            self.rows[vehicle_id] = r
        return r

    def rows_of(self, vehicle_ids: list[str]) -> IDX:
        """State rows of ``vehicle_ids`` in order."""
        get = self.rows.get
        rows = [get(v) for v in vehicle_ids]
        if None in rows:
            rows = [self.row(v) for v in vehicle_ids]
        return np.array(rows, dtype=np.intp)

    def update(self, f: Frame) -> IDX:
        """Advance the packs of ``f`` (one sample each, newer than their last); returns rows."""
        r = self.rows_of(f.vehicle_ids)
        n = len(r)
        if n == 0:
            return r
        # The arithmetic runs on views of the state when the frame's packs hold
        # a contiguous run of rows (the usual case: a round holds the whole
        # fleet of a design), in row order; otherwise on copies of their rows,
        # scattered back after. Every pack's numbers are the same either way;
        # training records its inputs in the frame's order, so it keeps it.
        lo = int(r.min())
        if int(r.max()) - lo + 1 == n and self.recorded is None:
            order = np.argsort(r)
            if np.array_equal(r[order], np.arange(lo, lo + n)):
                g = f if np.array_equal(order, np.arange(n)) else f.take(order)
                self._advance(g, _Rows(self, slice(lo, lo + n)))
                return r
        v = _Rows(self, r)
        self._advance(f, v)
        for name in _FIELDS:
            getattr(self, name)[r] = getattr(v, name)
        return r

    def _advance(self, f: Frame, v: _Rows) -> None:
        """The update of :meth:`update` on the state arrays ``v`` of ``f``'s packs, in place."""
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
        nom = self.design.nominal_ah
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
        tc = inlet[:, None] + cdt[:, None] * self.position[None, :]
        if self.expected is not None or self.recorded is not None:
            x = self._expected_x(tc, amb, v.i2_s, v.i2_f, cdt)
        res = hold - tc
        if self.expected is not None:
            out = self.expected(x.reshape(-1, x.shape[-1]))
            res -= out.reshape(tc.shape).astype(np.float64)
        if self.recorded is not None:
            ok = valid & ~init
            self.recorded.append((x[ok], (hold - tc)[ok]))
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
        self._cooling_loop(f, v, dt, restart, valid, ew)

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
        ew(v.dvc_f, dvc, TAU_MED)
        ew(v.dvc_s, dvc, TAU_VSLOW)

        ins = f.insulation_kohm
        decay = np.exp(-dt / 86400.0)
        peak = np.where(restart, ins, np.maximum(ins, v.ins_peak * decay))
        v.ins_peak[...] = np.where(np.isnan(ins), v.ins_peak, peak)
        v.last_ts[...] = ts
        v.seen[...] = True

    def _cooling_loop(
        self,
        f: Frame,
        v: _Rows,
        dt: F64,
        restart: npt.NDArray[np.bool_],
        valid: npt.NDArray[np.bool_],
        ew: Callable[[F64, F64, float, F64, npt.NDArray[np.bool_]], None],
    ) -> None:
        """Powered time, and how long the chiller has fallen short of its duty.

        The chiller is surely running when three sensors read 2 degC over its
        start temperature (one hot or drifting sensor does not count); then a
        working one holds the inlet at max(set point, outlet - its pull) within
        a few inlet time constants (90 s). An inlet well above that, for as long
        as the chiller is demanded, is a chiller or radiator fan that has failed.
        """
        powered = (np.abs(_nan_to(f.current_a, 0.0)) >= POWERED_A).astype(np.float64)
        ew(v.pwr, powered, TAU_FAST, dt, restart)
        on = v.pwr >= 0.5
        v.on_s[...] = np.where(on & ~restart, v.on_s + dt, 0.0)
        third = np.partition(np.where(valid, f.temps, -np.inf), -3, axis=1)[:, -3]
        want = np.maximum(LOOP.chiller_setpoint_c, f.outlet_c - LOOP.chiller_pull_c)
        with np.errstate(invalid="ignore"):
            short = (third >= LOOP.chiller_on_above_c + 2.0) & (f.inlet_c - want >= CHILLER_SHORT_C)
        short &= on & ~restart
        # A leaky count: a sample or two at the boundary (quantised inlet, a
        # coasting moment) does not restart it; a working chiller empties it fast.
        chill = np.where(short, v.chill_s + dt, np.maximum(v.chill_s - 3.0 * dt, 0.0))
        v.chill_s[...] = np.where(restart, 0.0, chill)

    def _expected(self, tc: F64, amb: F64, r: IDX, cdt: F64) -> F64:
        if self.expected is None:
            return np.zeros_like(tc)
        x = self.expected_inputs(tc, amb, r, cdt)
        out = self.expected(x.reshape(-1, x.shape[-1]))
        return out.reshape(tc.shape).astype(np.float64)

    def expected_inputs(self, tc: F64, amb: F64, r: IDX, cdt: F64) -> npt.NDArray[np.float32]:
        """Rows of :data:`EXPECTED_FEATURES`, shape (packs, sensors, features)."""
        return self._expected_x(tc, amb, self.i2_s[r], self.i2_f[r], cdt)

    def _expected_x(
        self, tc: F64, amb: F64, i2_s: F64, i2_f: F64, cdt: F64
    ) -> npt.NDArray[np.float32]:
        p, s = tc.shape
        x = np.empty((p, s, len(EXPECTED_FEATURES)), dtype=np.float32)
        x[..., 0] = tc
        x[..., 1] = amb[:, None] - tc
        x[..., 2] = i2_s[:, None]
        x[..., 3] = i2_f[:, None]
        x[..., 4] = cdt[:, None]
        x[..., 5] = self.position[None, :]
        x[..., 6] = self.is_lfp
        return x

    def r_excess(self, r: IDX) -> F64:
        """Each cell's series resistance above the pack median, mOhm (packs, cells)."""
        return _r_excess(self.e_ii[r], self.e_dvi[r])

    def sensor_features(self, r: IDX) -> npt.NDArray[np.float32]:
        """Rows of :data:`SENSOR_FEATURES`, shape (packs * sensors, features), pack-major."""
        p, s = len(r), self.s
        rex = self.r_excess(r) - self.rex_b[r]
        rex = rex - row_median(rex)
        drain = 1e3 * (self.dvc_f[r] - self.dvc_s[r])
        x = np.empty((p, s, len(SENSOR_FEATURES)), dtype=np.float32)
        loc = self.loc_f[r]
        pad = np.pad(loc, ((0, 0), (1, 1)), mode="edge")
        x[..., 0] = self.res_f[r]
        x[..., 1] = loc
        x[..., 2] = self.loc_s[r]
        x[..., 3] = loc - self.loc_s[r]
        x[..., 4] = np.maximum(pad[:, :-2], pad[:, 2:])
        x[..., 5] = np.log((self.stuck_a[r] + 0.05) / (self.stuck_b[r] + 0.05))
        x[..., 6] = self.drop[r]
        x[..., 7] = np.maximum.reduceat(rex, self.sensor_start, axis=1)
        x[..., 8] = np.minimum.reduceat(drain, self.sensor_start, axis=1)
        x[..., 9] = self.i2_s[r][:, None]
        x[..., 10] = self.res_f[r].mean(axis=1)[:, None]
        x[..., 11] = self.t_hold[r] - self.t_hold[r].min(axis=1, keepdims=True)
        x[..., 12] = self.t_f[r] - self.t_s[r]
        x[..., 13] = self.is_lfp
        return x.reshape(p * s, -1)

    def pack_features(self, r: IDX, inlet: F64, ambient: F64) -> npt.NDArray[np.float32]:
        """Rows of :data:`PACK_FEATURES`, shape (packs, features)."""
        x = np.empty((len(r), len(PACK_FEATURES)), dtype=np.float32)
        res = self.res_f[r].mean(axis=1)
        t = self.t_hold[r]
        inlet = _nan_to(inlet, 25.0)
        x[:, 0] = res
        x[:, 1] = self.pres_s[r]
        x[:, 2] = res - self.pres_s[r]
        x[:, 3] = self.cdt[r]
        x[:, 4] = inlet - _nan_to(ambient, 30.0)
        x[:, 5] = inlet
        x[:, 6] = self.i2_s[r]
        x[:, 7] = t.max(axis=1) - inlet
        x[:, 8] = t.mean(axis=1) - inlet
        x[:, 9] = self.is_lfp
        return x

    def cell_evidence(self, r: int, sensor: int, by: str = "both") -> tuple[int, float, float]:
        """For one sensor: (cell with most evidence, its R excess mOhm, its drain mV).

        ``by`` "resistance" picks the cell by its extra resistance alone."""
        cells = np.flatnonzero(self.cell_sensor == sensor)
        rex = self.r_excess(np.array([r]))[0] - self.rex_b[r]
        rex = rex - np.median(rex)
        drain = 1e3 * (self.dvc_f[r] - self.dvc_s[r])
        score = rex[cells] - (drain[cells] if by == "both" else 0.0)
        k = int(cells[int(np.argmax(score))])
        return k, float(rex[k]), float(drain[k])
