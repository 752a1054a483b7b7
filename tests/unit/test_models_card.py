"""The shipped ONNX files reproduce their model card's metrics on the fixed check set.

The check fleets (models/simdata.py: ``thermal_check``, ``soh_check``) are
small held-out runs from fixed seeds; ``packwatch models train`` recorded the
shipped models' results on them in models/onnx/card_metrics.json. Re-running
the same evaluation must give the same numbers: the files, the feature code and
the simulator still agree with the card.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.evaluate import dumps, evaluate, summary_line
from models.onnx_io import ONNX_DIR


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    return {prefix: d}


@pytest.mark.slow
def test_shipped_models_reproduce_their_card() -> None:
    card = json.loads((ONNX_DIR / "card_metrics.json").read_text())["check"]
    now = json.loads(dumps(evaluate("check")))
    got, want = _flat(summary_line(now)), _flat(summary_line(card))
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == (value if value is None else pytest.approx(value, rel=1e-6)), key
    assert now["soh"]["soh_mae_pct"] == pytest.approx(card["soh"]["soh_mae_pct"], abs=1e-4)
    assert now["false_alerts"] == card["false_alerts"]
