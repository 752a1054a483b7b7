"""Capacity fade and resistance growth of cells: calendar plus cycle ageing.

A semi-empirical model of the kind fitted in the literature (e.g. Schmalstieg
et al. 2014 for NMC, Naumann et al. 2018/2020 for LFP):

- calendar fade grows with the square root of time, ``q_cal = k(T, SoC) * sqrt(t)``,
  integrated in its differential form ``dq/dt = k² / (2 q)`` so that changing
  temperature and SoC are honoured;
- cycle fade grows with charge throughput in equivalent full cycles (EFC),
  faster at high temperature, outside the 15-85 % SoC window and at high C-rate;
- resistance grows in proportion to the capacity lost.

Both rates follow Arrhenius in temperature. :func:`initial_fade` gives the
closed form for a bus of a given age, so a simulation can start at any SoH
without simulating the past.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.simulator.params import CellParams

F64 = npt.NDArray[np.float64]

_T25_K = 298.15


def arrhenius(activation_k: float, temp_c: F64) -> F64:
    """Rate multiplier relative to 25 degC for an activation temperature ``Ea/R`` in K."""
    out: F64 = np.exp(activation_k * (1.0 / _T25_K - 1.0 / (np.asarray(temp_c) + 273.15)))
    return out


def calendar_k(p: CellParams, temp_c: F64, soc: F64) -> F64:
    """Calendar fade coefficient (fraction per sqrt(day)) at ``temp_c`` and ``soc`` (0..1)."""
    soc_factor = 0.6 + 0.8 * soc if p.chemistry == "NMC" else 0.8 + 0.4 * soc
    out: F64 = p.cal_fade_per_sqrt_day * arrhenius(p.fade_activation_k, temp_c) * soc_factor
    return out


def cycle_stress(p: CellParams, temp_c: F64, soc: F64, c_rate: F64) -> F64:
    """Cycle fade per EFC at the given temperature, SoC and C-rate."""
    window = 1.0 + 1.5 * np.clip((soc - 0.85) / 0.15, 0.0, 1.0) + np.clip((0.15 - soc) / 0.15, 0, 1)
    rate = 1.0 + 0.5 * np.maximum(c_rate - 1.0, 0.0)
    out: F64 = p.cyc_fade_per_efc * arrhenius(p.fade_activation_k, temp_c) * window * rate
    return out


def step_fade(
    p: CellParams,
    q_cal: F64,
    q_cyc: F64,
    mult: F64,
    temp_c: F64,
    soc: F64,
    dt_days: float,
    ah_through: F64,
    c_rate: F64,
) -> tuple[F64, F64]:
    """Advance calendar and cycle fade by ``dt_days`` with ``ah_through`` Ah of throughput.

    ``mult`` is each cell's own ageing-rate multiplier (manufacturing spread);
    ``ah_through`` is per bus (broadcast over its cells). Returns the new
    (q_cal, q_cyc) fractions of rated capacity lost.
    """
    k = calendar_k(p, temp_c, soc) * mult
    q_cal = q_cal + k * k * dt_days / (2.0 * np.maximum(q_cal, 1e-4))
    efc = ah_through / (2.0 * p.capacity_ah)
    q_cyc = q_cyc + cycle_stress(p, temp_c, soc, c_rate) * mult * efc
    return q_cal, q_cyc


def initial_fade(
    p: CellParams,
    age_days: float,
    mult: F64,
    *,
    mean_temp_c: float = 31.0,
    mean_soc: float = 0.6,
    efc_per_day: float = 1.0,
    target_soh: float | None = None,
) -> tuple[F64, F64]:
    """Closed-form (q_cal, q_cyc) per cell after ``age_days`` of typical service.

    Assumes constant mean cell temperature, mean SoC and daily cycling; cells
    differ by ``mult``. With ``target_soh`` (0..1) the fade is rescaled so the
    pack's mean capacity is ``target_soh`` of rated, keeping the calendar/cycle
    split and the cell-to-cell pattern.
    """
    t = np.full_like(mult, mean_temp_c)
    q_cal = calendar_k(p, t, np.full_like(mult, mean_soc)) * mult * np.sqrt(max(age_days, 0.0))
    q_cyc = (
        cycle_stress(p, t, np.full_like(mult, mean_soc), np.full_like(mult, 0.5))
        * mult
        * efc_per_day
        * max(age_days, 0.0)
    )
    if target_soh is not None:
        total = float(np.mean(q_cal + q_cyc))
        want = 1.0 - target_soh
        if total <= 0.0:
            q_cal = np.full_like(mult, want / 2) * mult
            q_cyc = np.full_like(mult, want / 2) * mult
        else:
            q_cal, q_cyc = q_cal * want / total, q_cyc * want / total
    return q_cal, q_cyc


def resistance_factor(p: CellParams, q_cal: F64, q_cyc: F64) -> F64:
    """Resistance relative to new for the given capacity fade."""
    out: F64 = 1.0 + p.resistance_per_fade * (q_cal + q_cyc)
    return out
