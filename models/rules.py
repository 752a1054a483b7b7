"""Deterministic safety rules: thresholds from :mod:`models.limits`, no model involved.

They read the latest readings and the rate of rise of each sensor (the
difference of two exponential averages, 60 s and 600 s: for a steady ramp of
k degC/s the gap is k * 540 s). Open sensors (-40 degC) are left out of every
rule: a broken sensor is reported as a sensor fault, never as a temperature.
"""

from __future__ import annotations

import numpy as np

from models.findings import Finding
from models.frame import Frame
from models.limits import LIMITS, OPEN_SENSOR_C
from models.thermal import TAU_FAST, TAU_MED, ThermalState
from schemas.common import AnomalyKind, Severity

RULES_VERSION = "rules-1"


def evaluate(state: ThermalState, rows: np.ndarray, f: Frame) -> list[Finding]:
    """Findings of every rule for the packs of ``f`` (rows from ``state.update``)."""
    lim = LIMITS[f.design_id]
    out: list[Finding] = []
    valid = f.temps > OPEN_SENSOR_C
    valid_any = valid.any(axis=1)
    # Open sensors read as -99 degC, below any limit; NaN where none reads.
    temps = np.nan_to_num(np.where(valid, f.temps, np.nan), nan=-99.0)
    t_max = np.where(valid_any, temps.max(axis=1), np.nan)
    j_max = np.argmax(temps, axis=1)
    t_f = state.t_f[rows]
    rate = (t_f - state.t_s[rows]) / (TAU_MED - TAU_FAST) * 60.0
    j_rate = np.argmax(rate, axis=1)
    every = np.arange(len(rows))
    rate_max = rate[every, j_rate]
    # Open sensors hold their last reading in t_f; a sensor that keeps dropping
    # out is a sensor fault, not a spread.
    ok = state.drop[rows] < 0.01
    smooth_max = np.where(ok, t_f, -np.inf).max(axis=1)
    smooth_min = np.where(ok, t_f, np.inf).min(axis=1)
    spread = smooth_max - smooth_min
    # Outlet over inlet means heat carried only while the pump runs (the bus is
    # powered); in a parked pack the still coolant warms toward its cells and
    # the two sensors read whatever the pipes hold.
    pumping = state.pwr[rows] >= 0.5
    cdt = np.where(pumping, f.outlet_c - f.inlet_c, np.nan)
    over = t_max >= lim.over_temp_warn_c
    rising = (rate_max >= lim.rise_c_per_min) & ok[every, j_rate]
    spread_wide = spread >= lim.spread_warn_c
    cdt_high = cdt >= lim.coolant_dt_warn_c
    ins_low = f.insulation_kohm < lim.insulation_warn_kohm
    # Only the packs where some rule fires need a look of their own (most packs
    # fire none: a Python loop over all of them would cost more than the rules).
    for b in np.flatnonzero(over | rising | spread_wide | cdt_high | ins_low).tolist():
        vid = f.vehicle_ids[b]
        if over[b]:
            tm = float(t_max[b])
            sev = Severity.CRITICAL if tm >= lim.over_temp_crit_c else Severity.WARNING
            out.append(Finding(vid, AnomalyKind.OVER_TEMPERATURE, sev, tm, RULES_VERSION,
                               sensor=int(j_max[b]),
                               evidence={"sensor_temp_c": tm,
                                         "limit_c": lim.over_temp_warn_c}))  # fmt: skip
        if rising[b]:
            j = int(j_rate[b])
            out.append(Finding(vid, AnomalyKind.TEMPERATURE_RISE_RATE, Severity.WARNING,
                               float(rate[b, j]), RULES_VERSION, sensor=j,
                               evidence={"rise_c_per_min": float(rate[b, j]),
                                         "limit_c_per_min": lim.rise_c_per_min}))  # fmt: skip
        # Spread on the 1-minute averages: single readings carry noise and a
        # 1-degC quantisation step at each end, which alone widen it by ~2 degC.
        if spread_wide[b]:
            out.append(Finding(vid, AnomalyKind.TEMPERATURE_SPREAD, Severity.WARNING,
                               float(spread[b]), RULES_VERSION,
                               evidence={"spread_c": float(spread[b]),
                                         "max_c": float(smooth_max[b]),
                                         "limit_c": lim.spread_warn_c}))  # fmt: skip
        # A pumping loop that warms its coolant past the limit cannot carry the
        # pack's heat (the flow has collapsed or the load is abnormal): that is
        # a cooling failure, critical, and the same condition the detector's
        # sustained check and models report, so it makes one alert, not two.
        if cdt_high[b]:
            out.append(Finding(vid, AnomalyKind.COOLING_FAILURE, Severity.CRITICAL,
                               float(cdt[b]), RULES_VERSION,
                               evidence={"coolant_dt_c": float(cdt[b]),
                                         "coolant_dt_limit_c": lim.coolant_dt_warn_c}))  # fmt: skip
        if ins_low[b]:
            ins = float(f.insulation_kohm[b])
            sev = Severity.CRITICAL if ins < lim.insulation_crit_kohm else Severity.WARNING
            out.append(Finding(vid, AnomalyKind.INSULATION_FAULT, sev, -ins, RULES_VERSION,
                               evidence={"insulation_kohm": ins,
                                         "limit_kohm": lim.insulation_warn_kohm}))  # fmt: skip
    return out
