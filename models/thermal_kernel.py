"""The per-sample arithmetic of :class:`models.thermal.ThermalState`, compiled.

:meth:`ThermalState.update` advances ~250 averages and baselines per pack and
sample. As numpy expressions over (packs, sensors) and (packs, cells) arrays
that took some forty passes over memory, each with its temporaries; here one
loop per pack does it in one pass, with numba.

The numbers are numpy's, bit for bit, because the loops do the same IEEE
operations in the same order: no fast-math (so no fused multiply-add), the
exponentials computed by numpy before the call (:func:`pack_factors`), the
medians as exact selections, and the mean of a row as numpy's pairwise sum
(:func:`_row_sum`). tests/unit/test_thermal_kernel.py holds them to a plain numpy
statement of the same update.

The update runs in two halves around the expected-temperature model, an
onnxruntime session that the compiled code cannot call: :func:`advance_sensors`
up to the model's inputs, :func:`advance_rest` from its output on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: Time constants of the averages (s), in the order of :func:`pack_factors`' alphas.
A_FAST, A_MED, A_SLOW, A_HALF_MED, A_VSLOW = range(5)

_DBL_MAX = float(np.finfo(np.float64).max)


def exact_jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit``, never fast-math (no reassociation, no fused multiply-add: the
    numbers must stay numpy's), its machine code cached beside this file (else in
    NUMBA_CACHE_DIR or the user's cache directory) so that a restart loads it;
    compiled once per process where no directory is writable."""
    try:
        jitted = numba.njit(cache=True, nogil=True, fastmath=False)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        jitted = numba.njit(cache=False, nogil=True, fastmath=False)(fn)
    return cast(Callable[..., Any], jitted)


@exact_jit
def _nan_to(x: float, fill: float) -> float:
    """``np.nan_to_num(x, nan=fill)`` of one value."""
    if np.isnan(x):
        return fill
    if np.isinf(x):
        return _DBL_MAX if x > 0 else -_DBL_MAX
    return x


@exact_jit
def _min(a: float, b: float) -> float:
    """``np.minimum``: NaN if either is."""
    if np.isnan(a):
        return a
    if np.isnan(b):
        return b
    return a if a < b else b


@exact_jit
def _max(a: float, b: float) -> float:
    """``np.maximum``: NaN if either is."""
    if np.isnan(a):
        return a
    if np.isnan(b):
        return b
    return a if a > b else b


@exact_jit
def _nb_median(x: F64, out: F64) -> None:
    """Median of the two neighbours on each side (edges reflected), self excluded."""
    s = x.shape[0]
    for j in range(s):
        ia, ib, ic, id_ = j - 2, j - 1, j + 1, j + 2
        ia = -ia if ia < 0 else ia
        ib = -ib if ib < 0 else ib
        ic = 2 * (s - 1) - ic if ic >= s else ic
        id_ = 2 * (s - 1) - id_ if id_ >= s else id_
        a, b, c, d = x[ia], x[ib], x[ic], x[id_]
        lo = _max(_min(a, b), _min(c, d))
        hi = _min(_max(a, b), _max(c, d))
        out[j] = 0.5 * (lo + hi)


@exact_jit
def _row_sum(a: F64) -> float:
    """numpy's pairwise sum of a short contiguous row (``np.add.reduce``, up to 128 values)."""
    n = a.shape[0]
    res: float
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    end = n - (n % 8)
    while i < end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@exact_jit
def _select(w: F64, k: int) -> float:
    """The k-th smallest of ``w`` (reordered in place; no NaN in it)."""
    lo, hi = 0, w.shape[0] - 1
    while lo < hi:
        pivot = w[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while w[i] < pivot:
                i += 1
            while w[j] > pivot:
                j -= 1
            if i <= j:
                w[i], w[j] = w[j], w[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return float(w[k])


@exact_jit
def _median(x: F64, work: F64) -> float:
    """``np.median`` of a row: NaN if it holds one; the mean of the middle two for an even count."""
    n = x.shape[0]
    for i in range(n):
        if np.isnan(x[i]):
            return np.nan
        work[i] = x[i]
    h = n // 2
    upper: float = _select(work, h)
    if n % 2:
        return upper
    # After the selection everything before position h is <= the upper middle value.
    lower: float = work[0]
    for i in range(1, h):
        if work[i] > lower:
            lower = work[i]
    return (lower + upper) / 2.0


@exact_jit
def _ew(old: float, x: float, a: float, restart: bool) -> float:
    """One step of an exponentially weighted mean: old + a (x - old); ``x`` on a restart."""
    if restart:
        return x
    return old + a * (x - old)


@exact_jit
def _follow(base: float, x: float, limit: float, pull: float, restart: bool) -> float:
    """A robust baseline's step: base + pull * clip(x - base, -limit, limit); ``x`` on a restart."""
    if restart:
        return x
    step = x - base
    if step < -limit:
        step = -limit
    elif step > limit:
        step = limit
    return base + pull * step


def pack_factors(dt: F64, age: F64, taus: tuple[float, ...]) -> tuple[F64, F64, F64]:
    """The per-pack factors the kernels take, with numpy's exponential:
    the averages' alphas 1 - exp(-dt / tau) (one row per tau), the baselines'
    pull 1 - exp(-dt / age), and the insulation peak's daily decay."""
    alphas = np.empty((len(taus), len(dt)))
    for k, tau in enumerate(taus):
        np.subtract(1.0, np.exp(-dt / tau), out=alphas[k])
    pull = np.exp(-dt / age)
    np.subtract(1.0, pull, out=pull)
    return alphas, pull, np.exp(-dt / 86400.0)


@exact_jit
def advance_sensors(
    rows: npt.NDArray[np.intp],
    restart: npt.NDArray[np.bool_],
    alphas: F64,
    current_a: F64,
    temps: F64,
    inlet_c: F64,
    outlet_c: F64,
    ambient_c: F64,
    nominal_ah: float,
    open_sensor_c: float,
    position: F64,
    is_lfp: float,
    i2_s: F64,
    i2_f: F64,
    cdt_avg: F64,
    t_hold: F64,
    drop: F64,
    stuck_a: F64,
    stuck_b: F64,
    t_f: F64,
    t_s: F64,
    valid: npt.NDArray[np.bool_],
    raw_res: F64,
    x: npt.NDArray[np.float32],
) -> None:
    """First half: current, sensor hold and quality averages, coolant rise; writes
    ``valid``, ``raw_res`` (temperature over local coolant) and ``x`` (the
    expected model's inputs) per frame row."""
    s = temps.shape[1]
    hold = np.empty(s)
    step = np.empty(s)
    med = np.empty(s)
    for k in range(rows.shape[0]):
        r = rows[k]
        init = restart[k]
        a_fast, a_med, a_slow, a_half = (
            alphas[A_FAST, k], alphas[A_MED, k], alphas[A_SLOW, k], alphas[A_HALF_MED, k]
        )  # fmt: skip
        q = current_a[k] / nominal_ah
        crate2 = q * q
        i2_s[r] = _ew(i2_s[r], crate2, a_slow, init)
        i2_f[r] = _ew(i2_f[r], crate2, a_half, init)

        missing = False
        for j in range(s):
            t = temps[k, j]
            ok = t > open_sensor_c
            valid[k, j] = ok
            if ok:
                hold[j] = t
            else:
                hold[j] = np.nan if init else t_hold[r, j]
            if np.isnan(hold[j]):
                missing = True
        if missing:
            # A sensor that has never read a value borrows its neighbours' median.
            for j in range(s):
                step[j] = _nan_to(hold[j], 25.0)
            _nb_median(step, med)
            for j in range(s):
                if np.isnan(hold[j]):
                    hold[j] = med[j]
        for j in range(s):
            step[j] = 0.0 if init else abs(hold[j] - t_hold[r, j])
        _nb_median(step, med)
        for j in range(s):
            h = hold[j]
            drop[r, j] = _ew(drop[r, j], 0.0 if valid[k, j] else 1.0, a_med, init)
            stuck_a[r, j] = _ew(stuck_a[r, j], step[j], a_slow, init)
            stuck_b[r, j] = _ew(stuck_b[r, j], med[j], a_slow, init)
            t_hold[r, j] = h
            t_f[r, j] = _ew(t_f[r, j], h, a_fast, init)
            t_s[r, j] = _ew(t_s[r, j], h, a_med, init)

        inlet = _nan_to(inlet_c[k], 25.0)
        amb = _nan_to(ambient_c[k], 30.0)
        cdt = _nan_to(outlet_c[k], 25.0) - inlet
        cdt_avg[r] = _ew(cdt_avg[r], cdt, a_half, init)
        for j in range(s):
            tc = inlet + cdt * position[j]
            raw_res[k, j] = hold[j] - tc
            x[k, j, 0] = tc
            x[k, j, 1] = amb - tc
            x[k, j, 2] = i2_s[r]
            x[k, j, 3] = i2_f[r]
            x[k, j, 4] = cdt
            x[k, j, 5] = position[j]
            x[k, j, 6] = is_lfp


@exact_jit
def advance_rest(
    rows: npt.NDArray[np.intp],
    ts: F64,
    dt: F64,
    restart: npt.NDArray[np.bool_],
    alphas: F64,
    pull: F64,
    decay: F64,
    current_a: F64,
    cell_v: F64,
    temps: F64,
    inlet_c: F64,
    outlet_c: F64,
    insulation_kohm: F64,
    valid: npt.NDArray[np.bool_],
    raw_res: F64,
    expected: F64,
    loop: F64,
    res_f: F64,
    res_s: F64,
    loc_b: F64,
    loc_f: F64,
    loc_s: F64,
    pres_s: F64,
    pres_m: F64,
    pwr: F64,
    on_s: F64,
    chill_s: F64,
    e_ii: F64,
    e_dvi: F64,
    i_prev: F64,
    dv_prev: F64,
    rex_b: F64,
    dvc_f: F64,
    dvc_s: F64,
    ins_peak: F64,
    last_ts: F64,
    seen: npt.NDArray[np.bool_],
) -> None:
    """Second half, from the expected model's output (``expected``, zeros without
    one): residual averages and baselines, the cooling loop's counters, the
    cells' voltage evidence, the insulation peak. ``loop`` holds the cooling
    loop's constants (see :class:`models.thermal.ThermalState`)."""
    s = temps.shape[1]
    c = cell_v.shape[1]
    (powered_a, base_step_c, base_step_mohm, setpoint_c, pull_c, on_above_c, short_c,
     trust_ii) = loop[0], loop[1], loop[2], loop[3], loop[4], loop[5], loop[6], loop[7]  # fmt: skip
    nb = np.empty(s)
    work = np.empty(c)
    for k in range(rows.shape[0]):
        r = rows[k]
        init = restart[k]
        d = dt[k]
        a_fast, a_med, a_slow, a_vslow = (
            alphas[A_FAST, k], alphas[A_MED, k], alphas[A_SLOW, k], alphas[A_VSLOW, k]
        )  # fmt: skip
        pk = pull[k]
        rf = res_f[r]
        for j in range(s):
            res = raw_res[k, j] - expected[k, j]
            rf[j] = _ew(rf[j], res, a_fast, init)
            res_s[r, j] = _ew(res_s[r, j], res, a_slow, init)
        # Each sensor's own calibration offset shows as a constant local residual:
        # a robust baseline learns it and the features use the departure from it.
        _nb_median(rf, nb)
        for j in range(s):
            raw = rf[j] - nb[j]
            loc_b[r, j] = _follow(loc_b[r, j], raw, base_step_c, pk, init)
            loc = raw - loc_b[r, j]
            loc_f[r, j] = loc
            loc_s[r, j] = _ew(loc_s[r, j], loc, a_slow, init)
        pres = _row_sum(rf) / s
        pres_s[r] = _ew(pres_s[r], pres, a_slow, init)
        pres_m[r] = _ew(pres_m[r], pres, a_med, init)

        # Powered time, and how long the chiller has fallen short of its duty.
        i = current_a[k]
        powered = 1.0 if abs(_nan_to(i, 0.0)) >= powered_a else 0.0
        pwr[r] = _ew(pwr[r], powered, a_fast, init)
        on = pwr[r] >= 0.5
        on_s[r] = on_s[r] + d if on and not init else 0.0
        # The third-hottest valid sensor.
        t1 = t2 = t3 = -np.inf
        for j in range(s):
            if valid[k, j]:
                t = temps[k, j]
                if t > t1:
                    t1, t2, t3 = t, t1, t2
                elif t > t2:
                    t2, t3 = t, t2
                elif t > t3:
                    t3 = t
        want = _max(setpoint_c, outlet_c[k] - pull_c)
        short = t3 >= on_above_c + 2.0 and inlet_c[k] - want >= short_c and on and not init
        if init:
            chill_s[r] = 0.0
        elif short:
            chill_s[r] = chill_s[r] + d
        else:
            chill_s[r] = max(chill_s[r] - 3.0 * d, 0.0)

        # Cell voltage deviations from the pack median, their steps regressed on
        # the current's steps: E[d(dv) dI] / E[dI^2] is a cell's extra series resistance.
        m = _median(cell_v[k], work)
        di = 0.0 if init else i - i_prev[r]
        e_ii[r] = _ew(e_ii[r], di * di, a_slow, init)
        var = _max(e_ii[r], 1.0)
        trusted = var > trust_ii
        for n in range(c):
            dv = cell_v[k, n] - m
            ddv = 0.0 if init else dv - dv_prev[r, n]
            e_dvi[r, n] = _ew(e_dvi[r, n], ddv * di, a_slow, init)
            dv_prev[r, n] = dv
            rex = 1e3 * e_dvi[r, n] / var if trusted else 0.0
            rex_b[r, n] = _follow(rex_b[r, n], rex, base_step_mohm, pk, init)
            dvc = dv - rex * 1e-3 * i
            dvc_f[r, n] = _ew(dvc_f[r, n], dvc, a_med, init)
            dvc_s[r, n] = _ew(dvc_s[r, n], dvc, a_vslow, init)
        i_prev[r] = i

        ins = insulation_kohm[k]
        if not np.isnan(ins):
            ins_peak[r] = ins if init else _max(ins, ins_peak[r] * decay[k])
        last_ts[r] = ts[k]
        seen[r] = True
