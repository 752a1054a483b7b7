"""The per-sample arithmetic of :class:`models.thermal.ThermalState`, compiled.

:meth:`ThermalState.update` advances ~250 averages and baselines per pack and
sample. As numpy expressions over (packs, sensors) and (packs, cells) arrays
that took some forty passes over memory, each with its temporaries; here one
loop per pack does it in one pass, in C (``models/_thermal.c``, built at
install like :mod:`schemas.json_floats`' parser).

The numbers are numpy's, bit for bit, because the loops do the same IEEE
operations in the same order: no floating-point contraction (so no fused
multiply-add), the exponentials computed by numpy before the call
(:func:`pack_factors`), the medians as exact selections, and the mean of a row
as numpy's pairwise sum. tests/unit/test_thermal_kernel.py holds them to a
plain numpy statement of the same update.

The update runs in two halves around the expected-temperature model, an
onnxruntime session: :func:`advance_sensors` up to the model's inputs,
:func:`advance_rest` from its output on. Both take C-contiguous arrays, the
state's own arrays written in place.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models._thermal import advance_rest, advance_sensors, median, row_sum

F64 = npt.NDArray[np.float64]

__all__ = ["advance_rest", "advance_sensors", "median", "pack_factors", "row_sum"]


def pack_factors(dt: F64, age: F64, taus: tuple[float, ...]) -> tuple[F64, F64]:
    """The per-pack factors the kernels take, with numpy's exponential:
    the averages' alphas 1 - exp(-dt / tau) (one row per tau) and the
    baselines' pull 1 - exp(-dt / age)."""
    alphas = np.empty((len(taus), len(dt)))
    for k, tau in enumerate(taus):
        np.subtract(1.0, np.exp(-dt / tau), out=alphas[k])
    pull = np.exp(-dt / age)
    np.subtract(1.0, pull, out=pull)
    return alphas, pull
