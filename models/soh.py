"""State-of-health features from a pack's recent history, and weak-cell detection.

:class:`SohWindow` is a bounded ring buffer (numpy) of one pack's samples, one
per :data:`BUCKET_S` seconds, over :data:`WINDOW_S`, plus a short list of SoC
anchors. From it:

- capacity of every cell by coulomb counting between two anchors. An anchor is
  the end of a quiet period (a rest, or standing on auxiliary load before a
  depot charge) long enough for the slow polarisation to settle; each cell's
  OCV there is its voltage with the small load's IR drop (measured resistance)
  and the OCV hysteresis (integrated from the current at full rate) taken out.
  Anchors count only where the chemistry's OCV says something (see
  :mod:`models.chemistry`: LFP only near the ends of its curve). The pack's
  usable capacity is that of its weakest cell, so that is the estimate; the
  charge counted is integrated from every sample, not only the buffered ones.
- resistance from dV/dI at current steps (charger switching on or off, hard
  acceleration), normalised to 25 degC.
- per cell: the spread of cell voltages at the end of charge (a low-capacity
  cell reaches the top first) and at the end of discharge (it reaches the bottom
  first); cells far outside it are flagged weak.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.chemistry import CellChemistry, chemistry, r_factor, r_to_25c, soc_from_ocv
from models.stats import median
from schemas.fleet import PackDesign

F64 = npt.NDArray[np.float64]

BUCKET_S = 30.0
WINDOW_S = 30 * 3600.0
QUIET_C = 0.08  # |current| at or below this C-rate is quiet: a rest, or auxiliaries only
QUIET_S = 1200.0  # a quiet period this long lets the slow polarisation settle to a few mV
MAX_GAP_S = 4 * BUCKET_S  # a longer gap between samples breaks the charge count
ANCHOR_BUCKETS = 10  # an anchor averages the last 5 minutes of its quiet period
MAX_ANCHORS = 32
MIN_DSOC = 0.15
STEADY_C = 0.03  # current changing less than this C-rate between samples is steady
STEP_C = 0.2  # a current step: at least this C-rate between two samples
MAX_STEPS = 256
ANCHOR_V_ERR = 0.002  # V: what is left of IR, hysteresis and polarisation at an anchor
OFFSET_A = 0.5  # A: a current sensor's offset, counted with the charge
#: Without a pair of anchors the capacity feature holds this prior (fraction of nominal).
PRIOR_CAPACITY = 0.85

#: Inputs of the SoH and resistance models (models/soh_model.py). ``capacity_ratio``
#: is the weakest cell's capacity over nominal (PRIOR_CAPACITY without an estimate),
#: ``mean_capacity_ratio`` the median cell's; ``resistance_ratio`` is the step
#: resistance at 25 degC over the new cell's R0, and ``resistance_ratio_dt`` that
#: times (temperature at the steps - 25 degC), for what the Arrhenius law leaves.
SOH_FEATURES = (
    "capacity_ratio",
    "has_capacity",
    "delta_soc",
    "mean_capacity_ratio",
    "resistance_ratio",
    "resistance_ratio_dt",
    "mean_temp_c",
    "eoc_spread_mv",
    "eod_spread_mv",
    "is_lfp",
)

# Weak-cell thresholds: end-of-charge excess over the median, end-of-discharge deficit.
WEAK_EOC_MV = {"LFP": 80.0, "NMC": 25.0}
WEAK_EOD_MV = {"LFP": 60.0, "NMC": 40.0}
# Capacity below the median cell's by more than this fraction; ageing alone spreads
# cells by up to ~13 % in the oldest training packs.
WEAK_CAPACITY = 0.15

_COLS = 5  # t, current, mean cell voltage, temperature, charge counted (Ah)


@dataclass(frozen=True)
class Anchor:
    """The end of a quiet period: what a cell's OCV, so its SoC, can be read from."""

    t: float
    ah: float  # charge counted since the window began (Ah, + = into the pack)
    v_cells: F64  # mean cell voltages over the last ANCHOR_BUCKETS buckets
    current: float  # mean current over them (A, + = charging)
    temp_c: float
    hyst: float  # mean hysteresis state (-1 after discharge .. +1 after charge)


@dataclass
class SohResult:
    """Features of one window plus the weak cells found."""

    features: F64
    weak_cells: list[int]


class SohWindow:
    """One pack's bounded history for SoH (see the module docstring)."""

    def __init__(self, design: PackDesign, window_s: float = WINDOW_S) -> None:
        self.design = design
        self.chem = chemistry(design)
        self.window_s = window_s
        self.size = int(window_s / BUCKET_S)
        self.buf = np.full((self.size, _COLS), np.nan)
        self.n = 0  # samples ever appended
        self.last_bucket = -1.0
        self.eoc: tuple[float, F64] | None = None  # (mean V, cell deviations) at top of charge
        self.eod: tuple[float, F64] | None = None  # same at the bottom of discharge
        self.ts_eoc = self.ts_eod = -np.inf
        # Integrated from every sample: charge counted and the OCV hysteresis state.
        self.ah = 0.0
        self.hyst = 0.0
        self._last: tuple[float, float, float] | None = None  # previous (t, current, mean V)
        self._calm = False  # the previous sample's current had been steady
        # Clean current steps seen at the full sample rate: (t, R0 at 25 degC in ohm, temp).
        self.steps: deque[tuple[float, float, float]] = deque(maxlen=MAX_STEPS)
        nom = design.nominal_ah
        self._quiet_a, self._steady_a, self._step_a = QUIET_C * nom, STEADY_C * nom, STEP_C * nom
        self._hyst_rate = self.chem.hysteresis_rate / (3600.0 * nom)
        self.anchors: list[Anchor] = []
        self._quiet_start: float | None = None
        self._quiet: deque[tuple[F64, float, float, float, float]] = deque(maxlen=ANCHOR_BUCKETS)

    def append(
        self, t: float, current: float, cell_v: F64, temp_c: float, v_mean: float | None = None
    ) -> bool:
        """Add a sample; keeps one per bucket. Returns True when a bucket was added.

        ``v_mean`` (the mean of ``cell_v``) may be passed when the caller has it
        from a vectorised pass over many packs.
        """
        v = float(cell_v.mean()) if v_mean is None else v_mean
        self._advance(t, current, v, temp_c)
        bucket = t // BUCKET_S
        if bucket <= self.last_bucket:
            return False
        # Extremes are sampled per bucket too: during a charge every sample is a
        # new maximum, and one snapshot per 30 s is plenty for a spread.
        self._extremes(t, current, cell_v, v)
        self._track_quiet(t, current, cell_v, temp_c)
        self.last_bucket = bucket
        self.buf[self.n % self.size] = (t, current, v, temp_c, self.ah)
        self.n += 1
        return True

    def _advance(self, t: float, current: float, v: float, temp_c: float) -> None:
        """Per sample: count charge, integrate the hysteresis, catch clean current steps."""
        # Runs for every sample scored: the previous sample unpacked once and
        # the step's magnitudes taken once, as this is per-sample Python.
        last = self._last
        if last is None:
            self._last = (t, current, v)
            return
        t0, i0, v0 = last
        if t <= t0:
            return  # a repeat or out of order: the caller's to drop
        self._last = (t, current, v)
        dt = t - t0
        di = current - i0
        adi = abs(di)
        calm_before = self._calm
        if dt > MAX_GAP_S:
            self._calm = False
            # Charge that flowed during a gap is unknown: anchors before it no longer
            # pair with those after, unless the pack was quiet on both sides of it.
            if abs(current) > self._quiet_a or abs(i0) > self._quiet_a:
                self.anchors.clear()
                self._quiet_start = None
            return
        self._calm = adi < self._steady_a
        # The current a sample reports has flowed since the previous one.
        self.ah += current * dt / 3600.0
        # Plett's one-state hysteresis: moves toward +1 while charging, -1 while
        # discharging, at a rate set by the charge passed.
        s = math.copysign(1.0, current) if current else 0.0
        self.hyst = s + (self.hyst - s) * math.exp(-self._hyst_rate * abs(current) * dt)
        # A step out of a steady current: R0 (see step_r0).
        if calm_before and adi > self._step_a:
            self.steps.append((t, step_r0(self.chem, (v - v0) / di, dt, temp_c), temp_c))

    def _track_quiet(self, t: float, current: float, cell_v: F64, temp_c: float) -> None:
        if abs(current) > QUIET_C * self.design.nominal_ah:
            self._quiet_start = None
            return
        if self._quiet_start is None:
            self._quiet_start = t
            self._quiet.clear()
        self._quiet.append((np.array(cell_v, dtype=np.float64), current, temp_c, self.hyst,
                            self.ah))  # fmt: skip
        if t - self._quiet_start < QUIET_S:
            return
        rows = list(self._quiet)
        a = Anchor(
            t=t,
            ah=float(np.mean([r[4] for r in rows])),
            v_cells=np.mean([r[0] for r in rows], axis=0),
            current=float(np.mean([r[1] for r in rows])),
            temp_c=float(np.nanmean([r[2] for r in rows])),
            hyst=float(np.mean([r[3] for r in rows])),
        )
        # One anchor per quiet period: the latest state of the one still going on.
        if self.anchors and self.anchors[-1].t >= self._quiet_start:
            self.anchors[-1] = a
        else:
            self.anchors.append(a)
        old = t - self.window_s
        self.anchors = [x for x in self.anchors if x.t >= old][-MAX_ANCHORS:]

    def _extremes(self, t: float, current: float, cell_v: F64, v: float) -> None:
        c = self.design.nominal_ah
        # Forget extremes older than a day: the next charge gives a fresh one.
        if self.eoc is not None and t - self.ts_eoc > 86400.0:
            self.eoc = None
        if self.eod is not None and t - self.ts_eod > 86400.0:
            self.eod = None
        if current > 0.05 * c and (self.eoc is None or v >= self.eoc[0]):
            self.eoc, self.ts_eoc = (v, cell_v - median(cell_v)), t
        if current < -0.05 * c and (self.eod is None or v <= self.eod[0]):
            self.eod, self.ts_eod = (v, cell_v - median(cell_v)), t

    def series(self) -> F64:
        """The window's rows in time order."""
        if self.n <= self.size:
            return self.buf[: self.n]
        k = self.n % self.size
        return np.concatenate([self.buf[k:], self.buf[:k]])

    def _recent_steps(self) -> list[tuple[float, float, float]]:
        last = self.buf[(self.n - 1) % self.size, 0] if self.n else 0.0
        return [x for x in self.steps if x[0] >= last - self.window_s]

    def features(self) -> SohResult:
        """SoH features (:data:`SOH_FEATURES`) and weak cells of the window."""
        x = self.series()
        t, i, v, temp = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
        nom = self.design.nominal_ah
        res = resistance_ratio(self.chem, t, i, v, temp, nom, self._recent_steps())
        r_ratio = res.ratio
        est = capacity(self.chem, self.anchors, r_ratio)
        eoc = self.eoc[1] if self.eoc is not None else None
        eod = self.eod[1] if self.eod is not None else None
        eoc_sp = float(eoc.max()) * 1e3 if eoc is not None else 0.0
        eod_sp = float(-eod.min()) * 1e3 if eod is not None else 0.0
        has = est is not None
        feats = np.array([
            est.weakest_ah / nom if est is not None else PRIOR_CAPACITY,
            1.0 if has else 0.0,
            est.delta_soc if est is not None else 0.0,
            est.mean_ah / nom if est is not None else PRIOR_CAPACITY,
            r_ratio if np.isfinite(r_ratio) else 0.0,
            (r_ratio * (res.step_temp_c - 25.0)) if np.isfinite(r_ratio) else 0.0,
            res.mean_temp_c,
            eoc_sp,
            eod_sp,
            1.0 if self.design.chemistry == "LFP" else 0.0,
        ])  # fmt: skip
        cell_ah = est.cell_ah if est is not None else None
        return SohResult(feats, weak_cells(self.design.chemistry, eoc, eod, cell_ah))


def weak_cells(
    chem_name: str, eoc: F64 | None, eod: F64 | None, cell_ah: F64 | None = None
) -> list[int]:
    """Cells standing out at the end of charge (high) or discharge (low), or with a
    capacity (from two anchors) far below the pack's median cell."""
    flagged: set[int] = set()
    if cell_ah is not None:
        low = cell_ah < (1.0 - WEAK_CAPACITY) * median(cell_ah)
        flagged |= set(np.flatnonzero(low).tolist())
    if eoc is not None:
        flagged |= set(np.flatnonzero(eoc * 1e3 > WEAK_EOC_MV[chem_name]).tolist())
    if eod is not None:
        flagged |= set(np.flatnonzero(-eod * 1e3 > WEAK_EOD_MV[chem_name]).tolist())
    return sorted(int(k) for k in flagged)


@dataclass(frozen=True)
class Resistance:
    """Ohmic resistance of a window."""

    ratio: float  # median R0 at 25 degC over the new cell's R0 (nan: no steps)
    step_temp_c: float  # median temperature at the steps
    mean_temp_c: float  # mean temperature of the window


def rc_seen_ohm(chem: CellChemistry, dt: float) -> float:
    """How much of the RC pairs (25 degC) a voltage step shows ``dt`` s after a current step."""
    seen1 = 1.0 - math.exp(-dt / chem.tau1_s)
    seen2 = 1.0 - math.exp(-dt / chem.tau2_s)
    return chem.r1_ohm * seen1 + chem.r2_ohm * seen2


def step_r0(chem: CellChemistry, dv_di: float, dt: float, temp_c: float) -> float:
    """R0 at 25 degC from dV/dI over a step ``dt`` s long out of a steady current.

    The RC pairs start settled, so dV/dI is R0 plus the part of them that
    charged within ``dt``: at 1 Hz almost none, over a 30 s bucket most of R1.
    """
    return float(r_to_25c(chem, dv_di, temp_c)) - rc_seen_ohm(chem, dt)


def resistance_ratio(
    chem: CellChemistry, t: F64, i: F64, v: F64, temp: F64, nominal_ah: float,
    clean: list[tuple[float, float, float]] | None = None,
) -> Resistance:  # fmt: skip
    """R0 at 25 degC (lab Arrhenius law) over the new cell's.

    From ``clean`` steps (t, R0 at 25 degC, temp) out of a steady current
    (:meth:`SohWindow._advance`: the charger switching on after standing on
    auxiliary load, or any step at 1 Hz) when there are any; otherwise from
    three or more steps between the buffered samples, less the RC part a
    bucket shows.
    """
    mean_t = float(np.nanmean(temp)) if len(temp) else 25.0
    if clean:
        r0 = np.array([x[1] for x in clean])
        tt = np.array([x[2] for x in clean])
        return Resistance(median(r0) / chem.r0_ohm, float(np.nanmedian(tt)), mean_t)
    none = Resistance(float("nan"), mean_t, mean_t)
    if len(t) < 3:
        return none
    di, dv, dt = np.diff(i), np.diff(v), np.diff(t)
    steps = (np.abs(di) > STEP_C * nominal_ah) & (dt <= MAX_GAP_S)
    if steps.sum() < 3:
        return none
    tt = 0.5 * (temp[1:][steps] + temp[:-1][steps])
    r0 = r_to_25c(chem, dv[steps] / di[steps], tt) - rc_seen_ohm(chem, BUCKET_S)
    return Resistance(median(r0) / chem.r0_ohm, float(np.nanmedian(tt)), mean_t)


@dataclass(frozen=True)
class CapacityEstimate:
    """Capacity from one pair of anchors."""

    weakest_ah: float  # the weakest cell's: the pack's usable capacity
    mean_ah: float  # the median cell's
    delta_soc: float  # the median cell's SoC difference between the anchors
    cell_ah: F64  # every cell's


def anchor_soc(chem: CellChemistry, a: Anchor, r_ratio: float) -> F64:
    """Each cell's SoC at an anchor: OCV = voltage - I R_total(T) - hysteresis.

    R_total is the settled DC resistance: the measured R0 plus both RC pairs (lab).
    """
    r0 = (r_ratio if np.isfinite(r_ratio) and r_ratio > 0 else 1.2) * chem.r0_ohm
    r_total = (r0 + chem.r1_ohm + chem.r2_ohm) * float(r_factor(chem, a.temp_c))
    ocv = a.v_cells - a.current * r_total - a.hyst * chem.hysteresis_v
    return soc_from_ocv(chem, ocv)


def _ocv_slope(chem: CellChemistry, soc: float) -> float:
    """dOCV/dSoC (V per unit SoC) of the lab curve at ``soc``."""
    k = int(np.clip(np.searchsorted(chem.ocv_soc, soc) - 1, 0, len(chem.ocv_soc) - 2))
    return (chem.ocv_v[k + 1] - chem.ocv_v[k]) / (chem.ocv_soc[k + 1] - chem.ocv_soc[k])


def capacity(chem: CellChemistry, anchors: list[Anchor], r_ratio: float) -> CapacityEstimate | None:
    """Per-cell capacity from the pairs of anchors, weighted by their expected error.

    A pair qualifies when both anchors lie where the OCV curve says something
    (the median cell's SoC; LFP only near its ends) and the median cell's SoC
    moved by MIN_DSOC or more. Its expected relative error: the SoC reading
    error at both ends (ANCHOR_V_ERR over the curve's slope there) over the SoC
    moved, plus a current-sensor offset counted over the pair's duration. Each
    cell's capacity is the inverse-variance mean over the pairs; the pack's is
    the weakest cell's.
    """
    socs = [anchor_soc(chem, a, r_ratio) for a in anchors]
    med = [median(s) for s in socs]
    ok = [m <= chem.anchor_low or m >= chem.anchor_high for m in med]
    err_soc = [ANCHOR_V_ERR / _ocv_slope(chem, m) for m in med]
    acc = wsum = ds_w = 0.0
    for a in range(len(anchors)):
        for b in range(a + 1, len(anchors)):
            ds = med[b] - med[a]
            dah = anchors[b].ah - anchors[a].ah
            if not (ok[a] and ok[b]) or abs(ds) < MIN_DSOC or ds * dah <= 0:
                continue
            dsoc_cells = socs[b] - socs[a]
            if (dsoc_cells * dah <= 0).any():
                continue
            hours = (anchors[b].t - anchors[a].t) / 3600.0
            rel = np.hypot(err_soc[a], err_soc[b]) / abs(ds) + OFFSET_A * hours / abs(dah)
            w = 1.0 / rel**2
            acc = acc + w * (dah / dsoc_cells)
            wsum += w
            ds_w += w * abs(ds)
    if wsum == 0.0:
        return None
    q = np.asarray(acc, dtype=np.float64) / wsum
    return CapacityEstimate(float(q.min()), median(q), ds_w / wsum, q)
