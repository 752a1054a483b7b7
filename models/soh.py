"""State-of-health features from a pack's recent history, and weak-cell detection.

:class:`SohWindow` is a bounded ring buffer (numpy) of one pack's samples, one
per :data:`BUCKET_S` seconds, over :data:`WINDOW_S`. From it:

- capacity by coulomb counting over a charge between two SoC anchors. The
  upper anchor is a rest after the charge; the lower one a rest before it or,
  failing that, the first charging sample with its IR drop taken out. Anchors
  count only where the chemistry's OCV says something (see
  :mod:`models.chemistry`: LFP only near the ends of its curve).
- resistance from dV/dI at current steps (charger switching on or off, hard
  acceleration), normalised to 25 degC.
- per cell: the spread of cell voltages at the end of charge (a low-capacity
  cell reaches the top first) and at the end of discharge (it reaches the bottom
  first); cells far outside it are flagged weak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.chemistry import CellChemistry, chemistry, r_to_25c, soc_from_ocv
from schemas.fleet import PackDesign

F64 = npt.NDArray[np.float64]

BUCKET_S = 30.0
WINDOW_S = 30 * 3600.0
REST_S = 1200.0  # a rest this long lets the 800 s polarisation settle to a few mV
MIN_DSOC = 0.3
# Total DC resistance over R0 for a charge lasting minutes (R0 + R1 + part of R2):
# how much of the voltage under charge current is not OCV.
R_TOTAL_OVER_R0 = 1.6

#: Inputs of the SoH and resistance models.
SOH_FEATURES = (
    "capacity_ratio",
    "has_capacity",
    "delta_soc",
    "resistance_ratio",
    "mean_temp_c",
    "eoc_spread_mv",
    "eod_spread_mv",
    "is_lfp",
)

# Weak-cell thresholds: end-of-charge excess over the median, end-of-discharge deficit.
WEAK_EOC_MV = {"LFP": 80.0, "NMC": 25.0}
WEAK_EOD_MV = {"LFP": 60.0, "NMC": 40.0}

_COLS = 5  # t, current, mean cell voltage, temperature, (unused pad)


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
        self.size = int(window_s / BUCKET_S)
        self.buf = np.full((self.size, _COLS), np.nan)
        self.n = 0  # samples ever appended
        self.last_bucket = -1.0
        self.eoc: tuple[float, F64] | None = None  # (mean V, cell deviations) at top of charge
        self.eod: tuple[float, F64] | None = None  # same at the bottom of discharge
        self.ts_eoc = self.ts_eod = -np.inf

    def append(
        self, t: float, current: float, cell_v: F64, temp_c: float, v_mean: float | None = None
    ) -> bool:
        """Add a sample; keeps one per bucket. Returns True when a bucket was added.

        ``v_mean`` (the mean of ``cell_v``) may be passed when the caller has it
        from a vectorised pass over many packs.
        """
        v = float(cell_v.mean()) if v_mean is None else v_mean
        bucket = t // BUCKET_S
        if bucket <= self.last_bucket:
            return False
        # Extremes are sampled per bucket too: during a charge every sample is a
        # new maximum, and one snapshot per 30 s is plenty for a spread.
        self._extremes(t, current, cell_v, v)
        self.last_bucket = bucket
        self.buf[self.n % self.size] = (t, current, v, temp_c, 0.0)
        self.n += 1
        return True

    def _extremes(self, t: float, current: float, cell_v: F64, v: float) -> None:
        c = self.design.nominal_ah
        # Forget extremes older than a day: the next charge gives a fresh one.
        if self.eoc is not None and t - self.ts_eoc > 86400.0:
            self.eoc = None
        if self.eod is not None and t - self.ts_eod > 86400.0:
            self.eod = None
        if current > 0.05 * c and (self.eoc is None or v >= self.eoc[0]):
            self.eoc, self.ts_eoc = (v, cell_v - np.median(cell_v)), t
        if current < -0.05 * c and (self.eod is None or v <= self.eod[0]):
            self.eod, self.ts_eod = (v, cell_v - np.median(cell_v)), t

    def series(self) -> F64:
        """The window's rows in time order."""
        if self.n <= self.size:
            return self.buf[: self.n]
        k = self.n % self.size
        return np.concatenate([self.buf[k:], self.buf[:k]])

    def features(self) -> SohResult:
        """SoH features (:data:`SOH_FEATURES`) and weak cells of the window."""
        x = self.series()
        t, i, v, temp = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
        nom = self.design.nominal_ah
        r_ratio, mean_t = resistance_ratio(self.chem, t, i, v, temp, nom)
        cap, dsoc = capacity(self.chem, t, i, v, r_ratio, nom)
        eoc = self.eoc[1] if self.eoc is not None else None
        eod = self.eod[1] if self.eod is not None else None
        eoc_sp = float(eoc.max()) * 1e3 if eoc is not None else 0.0
        eod_sp = float(-eod.min()) * 1e3 if eod is not None else 0.0
        feats = np.array([
            cap / nom if np.isfinite(cap) else 0.0,
            1.0 if np.isfinite(cap) else 0.0,
            dsoc,
            r_ratio if np.isfinite(r_ratio) else 0.0,
            mean_t,
            eoc_sp,
            eod_sp,
            1.0 if self.design.chemistry == "LFP" else 0.0,
        ])  # fmt: skip
        return SohResult(feats, weak_cells(self.design.chemistry, eoc, eod))


def weak_cells(chem_name: str, eoc: F64 | None, eod: F64 | None) -> list[int]:
    """Cells standing out at the end of charge (high) or discharge (low)."""
    flagged: set[int] = set()
    if eoc is not None:
        flagged |= set(np.flatnonzero(eoc * 1e3 > WEAK_EOC_MV[chem_name]).tolist())
    if eod is not None:
        flagged |= set(np.flatnonzero(-eod * 1e3 > WEAK_EOD_MV[chem_name]).tolist())
    return sorted(int(k) for k in flagged)


def resistance_ratio(
    chem: CellChemistry, t: F64, i: F64, v: F64, temp: F64, nominal_ah: float
) -> tuple[float, float]:
    """Median dV/dI over current steps, at 25 degC, over the new cell's R0; and mean temp."""
    mean_t = float(np.nanmean(temp)) if len(temp) else 25.0
    if len(t) < 3:
        return float("nan"), mean_t
    di, dv, dt = np.diff(i), np.diff(v), np.diff(t)
    steps = (np.abs(di) > 0.2 * nominal_ah) & (dt <= 2.5 * BUCKET_S)
    if steps.sum() < 3:
        return float("nan"), mean_t
    r = dv[steps] / di[steps]
    r25 = r_to_25c(chem, r, 0.5 * (temp[1:][steps] + temp[:-1][steps]))
    return float(np.median(r25) / chem.r0_ohm), mean_t


def _rest_ends(t: F64, i: F64, nominal_ah: float) -> list[int]:
    """Indices of the last sample of every rest at least REST_S long."""
    quiet = np.abs(i) < 0.02 * nominal_ah
    out: list[int] = []
    start = None
    for k in range(len(t)):
        if quiet[k]:
            start = k if start is None else start
            last = k == len(t) - 1 or not quiet[k + 1]
            if last and t[k] - t[start] >= REST_S:
                out.append(k)
        else:
            start = None
    return out


def capacity(
    chem: CellChemistry, t: F64, i: F64, v: F64, r_ratio: float, nominal_ah: float
) -> tuple[float, float]:
    """Ah between the best pair of anchors / their SoC difference; (nan, 0) if none."""
    if len(t) < 10:
        return float("nan"), 0.0
    soc = soc_from_ocv(chem, v)
    ok = (soc <= chem.anchor_low) | (soc >= chem.anchor_high)
    anchors: list[tuple[int, float]] = [(k, float(soc[k])) for k in _rest_ends(t, i, nominal_ah)
                                        if ok[k]]  # fmt: skip
    # Loaded anchors at charge starts: the IR drop removed with the measured resistance.
    r = (r_ratio if np.isfinite(r_ratio) else 1.2) * chem.r0_ohm * R_TOTAL_OVER_R0
    starts = np.flatnonzero((i[1:] > 0.1 * nominal_ah) & (i[:-1] <= 0.1 * nominal_ah)) + 1
    for k in starts:
        if k + 1 < len(t) and i[k + 1] > 0.1 * nominal_ah:
            s = float(soc_from_ocv(chem, v[k + 1] - i[k + 1] * r))
            if s <= chem.anchor_low or s >= chem.anchor_high:
                anchors.append((int(k + 1), s))
    anchors.sort()
    ah = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t) / 3600.0)])
    best = (float("nan"), 0.0)
    for a in range(len(anchors)):
        for b in range(a + 1, len(anchors)):
            (ka, sa), (kb, sb) = anchors[a], anchors[b]
            ds = sb - sa
            if abs(ds) >= MIN_DSOC and abs(ds) > abs(best[1]):
                best = (float((ah[kb] - ah[ka]) / ds), float(abs(ds)))
    return best
