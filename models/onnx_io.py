"""ONNX export with metadata, and the sessions that run the shipped models.

Every exported file carries ``version``, ``feature_names`` (comma separated)
and ``training_data_hash`` in its metadata, so the scoring service refuses a
file whose features do not match the code that computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]

ONNX_DIR = Path(__file__).resolve().parent / "onnx"
F32 = npt.NDArray[np.float32]


class ModelFileError(RuntimeError):
    """A model file is missing or does not match the features the code computes."""


def export(
    model: Any, path: Path, feature_names: tuple[str, ...], metadata: dict[str, str]
) -> None:
    """Convert a fitted scikit-learn model to ONNX at ``path`` with metadata."""
    from skl2onnx import to_onnx  # type: ignore[import-untyped]

    x = np.zeros((1, len(feature_names)), dtype=np.float32)
    options = {id(model): {"zipmap": False}} if hasattr(model, "classes_") else None
    onx = to_onnx(model, x, options=options, target_opset=17)
    props = {**metadata, "feature_names": ",".join(feature_names)}
    for key, value in props.items():
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    path.write_bytes(onx.SerializeToString())


@dataclass
class Model:
    """One InferenceSession and the metadata of its file."""

    name: str
    session: Any
    metadata: dict[str, str]
    output: str

    @property
    def version(self) -> str:
        return self.metadata.get("version", "unknown")

    def run(self, x: F32) -> F32:
        """Score a batch of rows; returns the regression value or the class probabilities."""
        if len(x) == 0:
            return np.zeros((0,), dtype=np.float32)
        out = self.session.run([self.output], {self.session.get_inputs()[0].name: x})[0]
        return np.asarray(out, dtype=np.float32)


def load(
    name: str, feature_names: tuple[str, ...], directory: Path = ONNX_DIR, threads: int = 1
) -> Model:
    """Open ``<directory>/<name>.onnx``; raises ModelFileError when absent or mismatched."""
    path = directory / f"{name}.onnx"
    if not path.exists():
        raise ModelFileError(f"no model file {path}; run `packwatch models train`")
    opts = ort.SessionOptions()
    # Set both: the scorer batches across packs, so one thread per model is the
    # right size; onnxruntime's default would take every core from the consumer.
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    names = tuple(meta.get("feature_names", "").split(","))
    if names != feature_names:
        raise ModelFileError(f"{path}: features {names} differ from the code's {feature_names}")
    outs = [o.name for o in sess.get_outputs()]
    output = "probabilities" if "probabilities" in outs else outs[0]
    return Model(name, sess, meta, output)
