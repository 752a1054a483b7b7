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


def _nb_median(x: F64) -> F64:
    """Median of the two neighbours on each side (edges reflected), self excluded."""
    p = np.pad(x, ((0, 0), (2, 2)), mode="reflect")
    s = x.shape[1]
    a, b, c, d = p[:, 0:s], p[:, 1 : s + 1], p[:, 3 : s + 3], p[:, 4 : s + 4]
    # The middle two of four without a sort: the larger of the pairs' minima and
    # the smaller of their maxima.
    lo = np.maximum(np.minimum(a, b), np.minimum(c, d))
    hi = np.minimum(np.maximum(a, b), np.maximum(c, d))
    out: F64 = 0.5 * (lo + hi)
    return out


class ThermalState:
    """State of every pack of one design; rows are assigned by the caller (see :meth:`row`)."""

    # Per-pack arrays allocated by _alloc: (packs, sensors), (packs, cells), (packs,).
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
        fields_ps = ("t_hold", "drop", "res_f", "res_s", "loc_f", "loc_s", "loc_b", "stuck_a",
                     "stuck_b", "t_f", "t_s")  # fmt: skip
        fields_pc = ("dv_prev", "e_dvi", "dvc_f", "dvc_s", "rex_b")
        fields_p = (
            "last_ts",
            "first_ts",
            "i2_s",
            "i2_f",
            "i_prev",
            "e_ii",
            "cdt",
            "ins_peak",
            "pres_s",
            "pres_m",
            "pwr",
            "on_s",
            "chill_s",
        )
        for name in fields_ps:
            self.__dict__[name] = np.zeros((cap, s))
        for name in fields_pc:
            self.__dict__[name] = np.zeros((cap, c))
        for name in fields_p:
            self.__dict__[name] = np.zeros(cap)
        self.seen = np.zeros(cap, dtype=np.bool_)
        for name in (*fields_ps, *fields_pc, *fields_p, "seen"):
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
        return np.array([self.row(v) for v in vehicle_ids], dtype=np.intp)

    def update(self, f: Frame) -> IDX:
        """Advance the packs of ``f`` (one sample each, newer than their last); returns rows."""
        r = self.rows_of(f.vehicle_ids)
        new = ~self.seen[r]
        dt = np.where(new, 0.0, np.clip(f.ts_s - self.last_ts[r], 0.0, None))
        restart = new | (dt > MAX_GAP_S)
        dt = np.where(restart, 0.0, dt)
        d1 = dt[:, None]
        init = restart[:, None]
        self.first_ts[r] = np.where(restart, f.ts_s, self.first_ts[r])

        any_restart = bool(restart.any())
        alphas: dict[tuple[float, int], F64] = {}

        def ew(old: F64, x: F64, tau: float, d: F64 = d1, i: npt.NDArray[np.bool_] = init) -> F64:
            key = (tau, d.ndim)
            a = alphas.get(key)
            if a is None:
                a = alphas[key] = _alpha(d, tau)
            out: F64 = old + a * (x - old)
            return np.where(i, x, out) if any_restart else out

        d0, i0 = dt, restart
        nom = self.design.nominal_ah
        crate2 = (f.current_a / nom) ** 2
        self.i2_s[r] = ew(self.i2_s[r], crate2, TAU_SLOW, d0, i0)
        self.i2_f[r] = ew(self.i2_f[r], crate2, TAU_MED / 2, d0, i0)

        valid = f.temps > OPEN_SENSOR_C
        hold = np.where(valid, f.temps, np.where(init, np.nan, self.t_hold[r]))
        # A sensor that has never read a value borrows its neighbours' median.
        hold = np.where(np.isnan(hold), _nb_median(np.nan_to_num(hold, nan=25.0)), hold)
        step = np.where(init, 0.0, np.abs(hold - self.t_hold[r]))
        self.drop[r] = ew(self.drop[r], (~valid).astype(np.float64), TAU_MED)
        self.stuck_a[r] = ew(self.stuck_a[r], step, TAU_SLOW)
        self.stuck_b[r] = ew(self.stuck_b[r], _nb_median(step), TAU_SLOW)
        self.t_hold[r] = hold
        self.t_f[r] = ew(self.t_f[r], hold, TAU_FAST)
        self.t_s[r] = ew(self.t_s[r], hold, TAU_MED)

        inlet = np.nan_to_num(f.inlet_c, nan=25.0)
        outlet = np.nan_to_num(f.outlet_c, nan=25.0)
        amb = np.nan_to_num(f.ambient_c, nan=30.0)
        cdt = outlet - inlet
        self.cdt[r] = ew(self.cdt[r], cdt, TAU_MED / 2, d0, i0)
        tc = inlet[:, None] + cdt[:, None] * self.position[None, :]
        exp_rise = self._expected(tc, amb, r, cdt)
        if self.recorded is not None:
            ok = valid & ~restart[:, None]
            x = self.expected_inputs(tc, amb, r, cdt)
            self.recorded.append((x[ok], (hold - tc)[ok]))
        res = hold - tc - exp_rise
        self.res_f[r] = ew(self.res_f[r], res, TAU_FAST)
        self.res_s[r] = ew(self.res_s[r], res, TAU_SLOW)
        # Each sensor's own calibration offset shows as a constant local residual:
        # a robust baseline learns it (steps clipped, so a fault barely moves it)
        # and the features use the departure from it.
        raw = self.res_f[r] - _nb_median(self.res_f[r])
        age = np.clip(2.0 * (f.ts_s - self.first_ts[r]), TAU_SLOW, TAU_BASE)[:, None]
        base = self.loc_b[r]
        step_b = np.clip(raw - base, -BASE_STEP_C, BASE_STEP_C)
        self.loc_b[r] = np.where(init, raw, base + (1.0 - np.exp(-d1 / age)) * step_b)
        loc = raw - self.loc_b[r]
        self.loc_f[r] = loc
        self.loc_s[r] = ew(self.loc_s[r], loc, TAU_SLOW)
        self.pres_s[r] = ew(self.pres_s[r], self.res_f[r].mean(axis=1), TAU_SLOW, d0, i0)
        self.pres_m[r] = ew(self.pres_m[r], self.res_f[r].mean(axis=1), TAU_MED, d0, i0)
        self._cooling_loop(f, r, dt, restart, valid)

        # Per-cell voltage deviation from the pack median, its steps regressed on
        # the current's steps: E[d(dv) dI] / E[dI^2] is the cell's extra series
        # resistance. Steps, not levels: near the ends of the OCV curve the cells'
        # capacity spread moves their deviations with the charge they pass, which
        # a regression of levels on current mistakes for resistance (tens of mV
        # over a charge); from one sample to the next that drift is negligible.
        i = f.current_a
        dv = f.cell_v - np.median(f.cell_v, axis=1, keepdims=True)
        di = np.where(restart, 0.0, i - self.i_prev[r])
        ddv = np.where(init, 0.0, dv - self.dv_prev[r])
        self.e_ii[r] = ew(self.e_ii[r], di * di, TAU_SLOW, d0, i0)
        self.e_dvi[r] = ew(self.e_dvi[r], ddv * di[:, None], TAU_SLOW)
        self.i_prev[r] = i
        self.dv_prev[r] = dv
        rex = self.r_excess(r)
        # Aged cells differ in resistance for good; a loose joint is a change. A
        # robust baseline per cell (steps clipped) keeps the first out of the features.
        age = np.clip(2.0 * (f.ts_s - self.first_ts[r]), TAU_SLOW, TAU_BASE)[:, None]
        step_r = np.clip(rex - self.rex_b[r], -BASE_STEP_MOHM, BASE_STEP_MOHM)
        self.rex_b[r] = np.where(init, rex, self.rex_b[r] + (1.0 - np.exp(-d1 / age)) * step_r)
        dvc = dv - rex * 1e-3 * i[:, None]
        self.dvc_f[r] = ew(self.dvc_f[r], dvc, TAU_MED)
        self.dvc_s[r] = ew(self.dvc_s[r], dvc, TAU_VSLOW)

        ins = f.insulation_kohm
        decay = np.exp(-dt / 86400.0)
        peak = np.where(restart, ins, np.maximum(ins, self.ins_peak[r] * decay))
        self.ins_peak[r] = np.where(np.isnan(ins), self.ins_peak[r], peak)
        self.last_ts[r] = f.ts_s
        self.seen[r] = True
        return r

    def _cooling_loop(
        self,
        f: Frame,
        r: IDX,
        dt: F64,
        restart: npt.NDArray[np.bool_],
        valid: npt.NDArray[np.bool_],
    ) -> None:
        """Powered time, and how long the chiller has fallen short of its duty.

        The chiller is surely running when three sensors read 2 degC over its
        start temperature (one hot or drifting sensor does not count); then a
        working one holds the inlet at max(set point, outlet - its pull) within
        a few inlet time constants (90 s). An inlet well above that, for as long
        as the chiller is demanded, is a chiller or radiator fan that has failed.
        """
        powered = (np.abs(np.nan_to_num(f.current_a)) >= POWERED_A).astype(np.float64)
        self.pwr[r] = np.where(
            restart, powered, self.pwr[r] + _alpha(dt, TAU_FAST) * (powered - self.pwr[r])
        )
        on = self.pwr[r] >= 0.5
        self.on_s[r] = np.where(on & ~restart, self.on_s[r] + dt, 0.0)
        third = np.partition(np.where(valid, f.temps, -np.inf), -3, axis=1)[:, -3]
        want = np.maximum(LOOP.chiller_setpoint_c, f.outlet_c - LOOP.chiller_pull_c)
        with np.errstate(invalid="ignore"):
            short = (third >= LOOP.chiller_on_above_c + 2.0) & (f.inlet_c - want >= CHILLER_SHORT_C)
        short &= on & ~restart
        # A leaky count: a sample or two at the boundary (quantised inlet, a
        # coasting moment) does not restart it; a working chiller empties it fast.
        self.chill_s[r] = np.where(
            short, self.chill_s[r] + dt, np.maximum(self.chill_s[r] - 3.0 * dt, 0.0)
        )
        self.chill_s[r] = np.where(restart, 0.0, self.chill_s[r])

    def _expected(self, tc: F64, amb: F64, r: IDX, cdt: F64) -> F64:
        if self.expected is None:
            return np.zeros_like(tc)
        x = self.expected_inputs(tc, amb, r, cdt)
        out = self.expected(x.reshape(-1, x.shape[-1]))
        return out.reshape(tc.shape).astype(np.float64)

    def expected_inputs(self, tc: F64, amb: F64, r: IDX, cdt: F64) -> npt.NDArray[np.float32]:
        """Rows of :data:`EXPECTED_FEATURES`, shape (packs, sensors, features)."""
        p, s = tc.shape
        x = np.empty((p, s, len(EXPECTED_FEATURES)), dtype=np.float32)
        x[..., 0] = tc
        x[..., 1] = amb[:, None] - tc
        x[..., 2] = self.i2_s[r][:, None]
        x[..., 3] = self.i2_f[r][:, None]
        x[..., 4] = cdt[:, None]
        x[..., 5] = self.position[None, :]
        x[..., 6] = self.is_lfp
        return x

    def r_excess(self, r: IDX) -> F64:
        """Each cell's series resistance above the pack median, mOhm (packs, cells)."""
        var = np.maximum(self.e_ii[r], 1.0)
        cov = self.e_dvi[r]
        # Charging current is positive, and a resistance raises the tap voltage
        # when charging: R = E[d(dV) dI] / E[dI^2]. Only trust it with current steps.
        out: F64 = np.where(var[:, None] > 100.0, 1e3 * cov / var[:, None], 0.0)
        return out

    def sensor_features(self, r: IDX) -> npt.NDArray[np.float32]:
        """Rows of :data:`SENSOR_FEATURES`, shape (packs * sensors, features), pack-major."""
        p, s = len(r), self.s
        rex = self.r_excess(r) - self.rex_b[r]
        rex = rex - np.median(rex, axis=1, keepdims=True)
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
        inlet = np.nan_to_num(inlet, nan=25.0)
        x[:, 0] = res
        x[:, 1] = self.pres_s[r]
        x[:, 2] = res - self.pres_s[r]
        x[:, 3] = self.cdt[r]
        x[:, 4] = inlet - np.nan_to_num(ambient, nan=30.0)
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
