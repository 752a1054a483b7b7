"""Small statistics the models run per sample, with numpy's exact results at less cost."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def row_median(x: F64) -> F64:
    """``np.median(x, axis=1, keepdims=True)`` for float rows, at a third of its cost.

    The same middle values, and the same mean of them (np.add.reduce over
    their count, as np.median's mean takes it: the same bits, signed zeros
    included), and NaN for a row holding one, as np.median gives. np.partition
    with the two middle positions as kth costs three times one kth; the lower
    middle value is the largest of those the one-kth partition puts before it.
    """
    n = x.shape[1]
    h = n // 2
    p = np.partition(x, h, axis=1)
    if n % 2:
        mid = p[:, h : h + 1]
    else:
        mid = np.empty((len(x), 2))
        np.max(p[:, :h], axis=1, out=mid[:, 0])
        mid[:, 1] = p[:, h]
    out: F64 = np.add.reduce(mid, 1, keepdims=True) / float(mid.shape[1])
    nan = np.isnan(x).any(axis=1, keepdims=True)
    if nan.any():
        out = np.where(nan, np.nan, out)
    return out


def median(x: F64) -> float:
    """``np.median(x)`` of a 1-D float array: :func:`row_median` of its one row."""
    return float(row_median(x[None, :])[0, 0])
