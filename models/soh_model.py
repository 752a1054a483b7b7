"""The SoH and resistance models: the physics estimate first, a small fitted part after it.

For SoH quantile q (10, 50 and 90 %):

- a window with a capacity estimate (two SoC anchors, :mod:`models.soh`) gives
  ``100 * capacity_ratio + c_q``, where c_q is the q-quantile of that estimate's
  error over the training windows: coulomb counting needs no learning, only
  its error band;
- a window without one falls back to a linear model of the step resistance
  (capacity fade and resistance growth go together) plus d_q, the q-quantile
  of that fallback's error in cross-validation by bus on the training fleet.

Resistance growth is linear in the step resistance at 25 degC, its
temperature term and the chemistry. Both are small enough to write as ONNX
graphs directly (MatMul, Add, Greater, Where), with the same metadata as every
other shipped model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]
from sklearn.model_selection import GroupKFold  # type: ignore[import-untyped]

from models.soh import SOH_FEATURES

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

QUANTILES = {"soh_q10": 0.1, "soh_q50": 0.5, "soh_q90": 0.9}
#: Inputs of the linear fallback and of the resistance model.
RESISTANCE_INPUTS = ("resistance_ratio", "resistance_ratio_dt", "is_lfp")
_OPSET = 17


def _column(name: str) -> int:
    return SOH_FEATURES.index(name)


def _weights(model: LinearRegression, names: tuple[str, ...]) -> tuple[F64, float]:
    """A fitted model on some columns as weights over every feature, and its intercept."""
    w = np.zeros(len(SOH_FEATURES))
    for name, c in zip(names, model.coef_, strict=True):
        w[_column(name)] = c
    return w, float(model.intercept_)


def _linear(x: F32, y: F32, names: tuple[str, ...]) -> LinearRegression:
    return LinearRegression().fit(x[:, [_column(n) for n in names]], y)


def _cv_residuals(x: F32, y: F32, groups: npt.NDArray[np.int64], folds: int = 5) -> F64:
    """Out-of-fold residuals of the fallback, both windows of a bus in the same fold."""
    res = np.zeros(len(y))
    cols = [_column(n) for n in RESISTANCE_INPUTS]
    for train, test in GroupKFold(folds).split(x, y, groups):
        m = LinearRegression().fit(x[train][:, cols], y[train])
        res[test] = y[test] - m.predict(x[test][:, cols])
    return res


def _graph(name: str, branches: list[tuple[F64, float]], gate: int | None) -> onnx.ModelProto:
    """y = X w_a + b_a, or with a gate column: Where(X[gate] > 0.5, X w_a + b_a, X w_b + b_b)."""
    n = len(SOH_FEATURES)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    outs = []
    for k, (w, b) in enumerate(branches):
        inits += [numpy_helper.from_array(w.reshape(n, 1).astype(np.float32), f"w{k}"),
                  numpy_helper.from_array(np.array([b], dtype=np.float32), f"b{k}")]  # fmt: skip
        nodes += [helper.make_node("MatMul", ["X", f"w{k}"], [f"xw{k}"]),
                  helper.make_node("Add", [f"xw{k}", f"b{k}"], [f"y{k}"])]  # fmt: skip
        outs.append(f"y{k}")
    if gate is None:
        nodes[-1].output[0] = "variable"
    else:
        one_hot = np.zeros((n, 1), dtype=np.float32)
        one_hot[gate] = 1.0
        inits += [numpy_helper.from_array(one_hot, "gate"),
                  numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half")]  # fmt: skip
        nodes += [helper.make_node("MatMul", ["X", "gate"], ["g"]),
                  helper.make_node("Greater", ["g", "half"], ["on"]),
                  helper.make_node("Where", ["on", outs[0], outs[1]], ["variable"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _write(model: onnx.ModelProto, path: Path, metadata: dict[str, str]) -> None:
    for key, value in {**metadata, "feature_names": ",".join(SOH_FEATURES)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString())


def fit_soh_models(
    x: F32, soh: F32, res: F32, groups: npt.NDArray[np.int64], out: Path,
    metadata: dict[str, str],
) -> dict[str, float]:  # fmt: skip
    """Fit and write soh_q10/q50/q90.onnx and resistance.onnx; returns the fitted offsets."""
    has = x[:, _column("has_capacity")] > 0.5
    physics = 100.0 * x[:, _column("capacity_ratio")]
    fallback = _linear(x, soh, RESISTANCE_INPUTS)
    fb_res = _cv_residuals(x, soh, groups)
    w_phys = np.zeros(len(SOH_FEATURES))
    w_phys[_column("capacity_ratio")] = 100.0
    w_fb, b_fb = _weights(fallback, RESISTANCE_INPUTS)
    offsets: dict[str, float] = {}
    for name, q in QUANTILES.items():
        c = float(np.quantile(soh[has] - physics[has], q)) if has.any() else 0.0
        d = float(np.quantile(fb_res, q))
        offsets[f"{name}_capacity"], offsets[f"{name}_fallback"] = c, d
        g = _graph(name, [(w_phys, c), (w_fb, b_fb + d)], _column("has_capacity"))
        _write(g, out / f"{name}.onnx", metadata)
    w_r, b_r = _weights(_linear(x, res, RESISTANCE_INPUTS), RESISTANCE_INPUTS)
    _write(_graph("resistance", [(w_r, b_r)], None), out / "resistance.onnx", metadata)
    return offsets
