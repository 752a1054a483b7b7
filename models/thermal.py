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

from models import thermal_kernel as kernel
from models.chemistry import chemistry
from models.frame import Frame
from models.limits import INSULATION_FULL_SCALE_KOHM, OPEN_SENSOR_C
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
#: Distance of the inlet from both inlets the loop's specification gives (the
#: chiller's, the radiator's: see the kernel) that counts towards a loop doing
#: neither. Quantisation of the three temperatures and the modes' switching
#: keep a healthy loop under it but for minutes at a time (detector.INLET_OFF_S).
INLET_OFF_C = 1.0
#: Powered time after which the coolant's readings hold no parked spell's (the
#: powered time counts only powered samples, so reaching it means powered now).
PUMPING_SETTLE_S = 900.0
#: Most a leaky count of seconds grows by in one sample: a gap in the data is no evidence.
COUNT_STEP_MAX_S = 30.0
#: E[dI^2] (A^2) above which a cell's resistance regression has steps enough to trust.
TRUST_II = 100.0

_TAUS = (TAU_FAST, TAU_MED, TAU_SLOW, TAU_MED / 2, TAU_VSLOW, LOOP.inlet_tau_s)  # A_FAST ...
#: The constants kernel.advance_rest reads, in its order: the cooling loop's and the
#: checks' thresholds, holds and steps.
_LOOP = np.array(
    [POWERED_A, BASE_STEP_C, BASE_STEP_MOHM, LOOP.chiller_setpoint_c, LOOP.chiller_pull_c,
     LOOP.chiller_on_above_c, CHILLER_SHORT_C, TRUST_II, LOOP.radiator_share, INLET_OFF_C,
     PUMPING_SETTLE_S, COUNT_STEP_MAX_S]
)  # fmt: skip


def _c(x: F64) -> F64:
    """``x`` as a C-contiguous float64 array (itself when it is one)."""
    return np.ascontiguousarray(x, dtype=np.float64)


def _nan_to(x: F64, fill: float) -> F64:
    """``np.nan_to_num(x, nan=fill)``: ``x`` itself when all finite (the usual case).

    np.nan_to_num costs five times a finiteness check on a frame's scalars.
    The result is only read, never written, so it may be ``x``.
    """
    if np.isfinite(x).all():
        return x
    out: F64 = np.nan_to_num(x, nan=fill)
    return out


#: Per-pack state arrays: (packs, sensors), (packs, cells), (packs,).
_FIELDS_PS = ("t_hold", "drop", "res_f", "res_s", "loc_f", "loc_s", "loc_b", "stuck_a",
              "stuck_b", "t_f", "t_s")  # fmt: skip
_FIELDS_PC = ("dv_prev", "e_dvi", "dvc_f", "dvc_s", "dvc_q", "rex_b")
_FIELDS_P = ("last_ts", "first_ts", "i2_s", "i2_f", "i_prev", "e_ii", "cdt", "ins_hour",
             "pres_s", "pres_m", "pwr", "on_s", "chill_s", "in_chill", "in_rad",
             "inlet_off_s")  # fmt: skip
#: The insulation's highest reading of each of the last INS_HOURS clock hours (a ring).
INS_HOURS = 24
#: Per pack, kept by the detector at its passes (NaN: none yet): since when its
#: coolant has run over what the load explains, and the pass that last judged it
#: (see :meth:`ThermalState.coolant_excess_held_s`).
_FIELDS_HOLD = ("cdt_since", "cdt_last")
_FIELDS = (*_FIELDS_PS, *_FIELDS_PC, *_FIELDS_P, *_FIELDS_HOLD, "ins_hr", "seen")


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
    dvc_q: F64
    rex_b: F64
    last_ts: F64
    first_ts: F64
    i2_s: F64
    i2_f: F64
    i_prev: F64
    e_ii: F64
    cdt: F64
    ins_hour: F64
    ins_hr: F64
    cdt_since: F64
    cdt_last: F64
    pres_s: F64
    pres_m: F64
    pwr: F64
    on_s: F64
    chill_s: F64
    in_chill: F64
    in_rad: F64
    inlet_off_s: F64
    seen: npt.NDArray[np.bool_]


def _r_excess(e_ii: F64, e_dvi: F64) -> F64:
    """:meth:`ThermalState.r_excess` of the packs with these averages."""
    var = np.maximum(e_ii, 1.0)[:, None]
    # Charging current is positive, and a resistance raises the tap voltage
    # when charging: R = E[d(dV) dI] / E[dI^2]. Only trust it with current steps.
    out: F64 = np.multiply(1e3, e_dvi)
    np.divide(out, var, out=out)
    trusted = var > TRUST_II
    if not trusted.all():
        out[~trusted[:, 0]] = 0.0
    return out


class ThermalState(_StateArrays):
    """State of every pack of one design; rows are assigned by the caller (see :meth:`row`).

    The per-pack arrays are allocated by _alloc: (packs, sensors), (packs, cells), (packs,),
    and the insulation ring (packs, INS_HOURS).
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
        self.ins_hr = np.full((cap, INS_HOURS), np.nan)
        for name in _FIELDS_HOLD:
            self.__dict__[name] = np.full(cap, np.nan)
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
        """Advance the packs of ``f`` (one sample each, newer than their last); returns rows.

        The arithmetic is compiled (:mod:`models.thermal_kernel`): numpy here
        computes only the per-pack factors, and the expected-temperature model
        runs between the kernel's two halves. Frames' arrays may be views (the
        simulator's): the kernels take them as contiguous float64.
        """
        r = self.rows_of(f.vehicle_ids)
        n = len(r)
        if n == 0:
            return r
        if len(set(f.vehicle_ids)) != n:
            raise ValueError("a frame holds one sample per pack")
        ts = f.ts_s
        if not np.isfinite(ts).all():
            raise ValueError("a frame's timestamps must be finite")
        new = ~self.seen[r]
        dt = np.where(new, 0.0, np.clip(ts - self.last_ts[r], 0.0, None))
        restart = new | (dt > MAX_GAP_S)
        if restart.any():
            dt = np.where(restart, 0.0, dt)
            self.first_ts[r[restart]] = ts[restart]
        age = np.clip(2.0 * (ts - self.first_ts[r]), TAU_SLOW, TAU_BASE)
        alphas, pull = kernel.pack_factors(dt, age, _TAUS)
        s = self.s
        valid = np.empty((n, s), dtype=np.bool_)
        raw_res = np.empty((n, s))
        x = np.empty((n, s, len(EXPECTED_FEATURES)), dtype=np.float32)
        current, temps, cell_v = _c(f.current_a), _c(f.temps), _c(f.cell_v)
        inlet, outlet, ambient = _c(f.inlet_c), _c(f.outlet_c), _c(f.ambient_c)
        kernel.advance_sensors(
            r, restart, alphas, current, temps, inlet, outlet, ambient,
            float(self.design.nominal_ah), OPEN_SENSOR_C, self.position, self.is_lfp,
            self.i2_s, self.i2_f, self.cdt, self.t_hold, self.drop, self.stuck_a, self.stuck_b,
            self.t_f, self.t_s, valid, raw_res, x,
        )  # fmt: skip
        if self.expected is not None:
            expected = self.expected(x.reshape(-1, x.shape[-1])).reshape(n, s).astype(np.float64)
        else:
            expected = np.zeros((n, s))
        if self.recorded is not None:
            ok = valid & ~restart[:, None]
            self.recorded.append((x[ok], raw_res[ok]))
        insulation = _c(f.insulation_kohm)
        if (insulation >= INSULATION_FULL_SCALE_KOHM).any():  # "at least": not the day's peak
            insulation = np.where(insulation >= INSULATION_FULL_SCALE_KOHM, np.nan, insulation)
        kernel.advance_rest(
            r, _c(ts), dt, restart, alphas, pull, current, cell_v, temps,
            inlet, outlet, ambient, insulation, valid, raw_res, expected, _LOOP,
            self.res_f, self.res_s, self.loc_b, self.loc_f, self.loc_s, self.pres_s, self.pres_m,
            self.pwr, self.on_s, self.chill_s, self.in_chill, self.in_rad, self.inlet_off_s,
            self.e_ii, self.e_dvi, self.i_prev, self.dv_prev, self.rex_b, self.dvc_f, self.dvc_s,
            self.dvc_q, self.ins_hour, self.ins_hr,
            self.last_ts, self.seen,
        )  # fmt: skip
        return r

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

    def coolant_excess_held_s(
        self, r: IDX, holds: npt.NDArray[np.bool_], t: F64, max_gap_s: float
    ) -> F64:
        """How long (seconds of each pack's clock, 0 where it does not) its coolant
        has run over what its load explains, ``holds`` being this pass's verdict at
        time ``t``. Judged at every pass of every pack, settled or not, so that a
        warm-up replay rebuilds it. Passes more than ``max_gap_s`` apart (a gap in
        the data), or a clock gone back, start it afresh.
        """
        since, last = self.cdt_since[r], self.cdt_last[r]
        gap = t - last
        going_on = holds & ~np.isnan(since) & (gap >= 0.0) & (gap <= max_gap_s)
        since = np.where(holds, np.where(going_on, since, t), np.nan)
        self.cdt_since[r] = since
        self.cdt_last[r] = t
        out: F64 = np.where(holds, t - since, 0.0)
        return out

    def seed_insulation(self, r: int, hours: F64, values: F64) -> None:
        """Merge earlier hours' readings into pack ``r``'s insulation ring.

        ``hours`` are clock hours (unix seconds // 3600), ``values`` a reading of
        each (kOhm, NaN for none). An hour inside the ring's window (the pack's
        latest hour and the INS_HOURS - 1 before it) keeps the higher of what it
        holds and the seed; others, and readings at the monitor's full scale,
        are ignored. Only a pack already seen can be seeded: its first sample
        starts an empty ring (ValueError before it).
        """
        if not self.seen[r]:
            raise ValueError("seed a pack's insulation ring after its first sample")
        hours = np.asarray(hours, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        latest = self.ins_hour[r]
        inside = (hours <= latest) & (hours > latest - INS_HOURS) & ~np.isnan(values)
        inside &= values < INSULATION_FULL_SCALE_KOHM  # as in update: no peak
        ring = self.ins_hr[r]
        for h, v in zip(hours[inside].tolist(), values[inside].tolist(), strict=True):
            slot = int(h % INS_HOURS)
            ring[slot] = np.fmax(ring[slot], v)

    def insulation_peak(self, r: IDX) -> F64:
        """Each pack's highest insulation reading of this clock hour and the
        INS_HOURS - 1 before it (NaN before its first reading)."""
        out: F64 = np.fmax.reduce(self.ins_hr[r], axis=1)
        return out

    def quick_step(self, r: IDX) -> F64:
        """Per cell (packs, cells): its 1-minute mean deviation (current-corrected)
        under its own 2-hour mean, mV."""
        out: F64 = 1e3 * (self.dvc_q[r] - self.dvc_s[r])
        return out

    def quick_drain(self, r: IDX) -> F64:
        """Per sensor (packs, sensors): the lowest :meth:`quick_step` of its cells."""
        out: F64 = np.minimum.reduceat(self.quick_step(r), self.sensor_start, axis=1)
        return out

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

        ``by`` "resistance" picks the cell by its extra resistance alone, "step"
        by its 1-minute step (:meth:`quick_step`) alone, "both" by the extra
        resistance less the 10-minute drain."""
        cells = np.flatnonzero(self.cell_sensor == sensor)
        rex = self.r_excess(np.array([r]))[0] - self.rex_b[r]
        rex = rex - np.median(rex)
        drain = 1e3 * (self.dvc_f[r] - self.dvc_s[r])
        if by == "step":
            score = -self.quick_step(np.array([r]))[0, cells]
        else:
            score = rex[cells] - (drain[cells] if by == "both" else 0.0)
        k = int(cells[int(np.argmax(score))])
        return k, float(rex[k]), float(drain[k])
