"""`packwatch models train`: simulate from fixed seeds, fit, export ONNX, write the model card.

Reproducible: every simulated fleet comes from a fixed seed (:mod:`models.simdata`)
and every estimator has a fixed ``random_state``. The training-data hash in each
file's metadata is the SHA-256 of the exact feature matrix and labels it was fit on.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]
from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]

from models.chemistry import design_by_id
from models.detector import SENSOR_CLASSES, Detector, cooling_corroborated, corroborated
from models.loop import WARMUP_S, detector_passes, soh_windows
from models.onnx_io import ONNX_DIR, export, load
from models.simdata import RUNS, true_soh
from models.soh_model import fit_soh_models
from models.thermal import EXPECTED_FEATURES, PACK_FEATURES, SENSOR_FEATURES, ThermalState
from services.simulator import Fleet

VERSION = "2026.11-1"
F32 = npt.NDArray[np.float32]


def data_hash(*arrays: npt.NDArray[np.generic]) -> str:
    """SHA-256 over the arrays' bytes, shapes and dtypes."""
    h = hashlib.sha256()
    for a in arrays:
        c = np.ascontiguousarray(a)
        h.update(str((c.shape, c.dtype.str)).encode())
        h.update(c.tobytes())
    return h.hexdigest()


def _meta(h: str, extra: str = "") -> dict[str, str]:
    return {"version": VERSION, "training_data_hash": h, "trained_on": extra}


def train_expected(out: Path) -> None:
    """Expected temperature rise over local coolant, from healthy buses only."""
    run = RUNS["expected_train"]
    det = Detector({})
    from models.simdata import build, frames

    fleet = build(run)
    states: dict[str, ThermalState] = {}
    for t, fs in frames(fleet, run.duration_s, run.dt):
        for f in fs:
            st = states.get(f.design_id)
            if st is None:
                st = states[f.design_id] = det.state(f.design_id)
                st.recorded = []
            if t < WARMUP_S and st.recorded:
                st.recorded.clear()
            st.update(f)
    xs = [x for st in states.values() for x, _ in (st.recorded or [])]
    ys = [y for st in states.values() for _, y in (st.recorded or [])]
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.float32)
    model = LinearRegression().fit(x, y)
    export(model, out / "expected.onnx", EXPECTED_FEATURES, _meta(data_hash(x, y), run.name))


#: Faults below this severity are left out of training (neither healthy nor faulty):
#: they move no reading beyond its noise, so as positives they only teach noise.
MIN_TRAIN_SEVERITY = 0.25
#: Rows in the first minutes after onset are left out too: the fault has not shown yet.
SHOW_S = 300.0


def _labels(fleet: Fleet, design_id: str, vids: list[str]) -> tuple[F32, F32]:
    """Sensor labels (packs, sensors) as class index (-1 = leave out), pack labels (packs,)."""
    d = design_by_id(design_id)
    cell_sensor = np.repeat(np.arange(d.temp_sensors), [len(g) for g in d.sensor_cells()])
    idx = {v: k for k, v in enumerate(vids)}
    ys = np.zeros((len(vids), d.temp_sensors), dtype=np.float32)
    yp = np.zeros(len(vids), dtype=np.float32)
    kinds = [k.value if k is not None else "" for k in SENSOR_CLASSES]
    for f in fleet.active_faults():
        b = idx.get(f.vehicle_id)
        if b is None:
            continue
        hidden = f.severity < MIN_TRAIN_SEVERITY or fleet.t_s - f.start_s < SHOW_S
        if f.kind == "cooling_failure":
            yp[b] = -1 if hidden else 1
        elif f.kind == "sensor_fault" and f.sensor is not None:
            ys[b, f.sensor] = -1 if hidden else kinds.index("sensor_fault")
        elif f.kind in kinds and f.cell is not None:
            ys[b, cell_sensor[f.cell]] = -1 if hidden else kinds.index(f.kind)
    return ys, yp


def train_thermal(out: Path) -> None:
    """Per-sensor and per-pack anomaly classifiers on a faulted training fleet."""
    run = RUNS["thermal_train"]
    det = Detector({"expected": load("expected", EXPECTED_FEATURES, out)})
    rng = np.random.default_rng(run.seed)
    xs: list[F32] = []
    ys: list[F32] = []
    xp: list[F32] = []
    yp: list[F32] = []

    def on_pass(fleet: Fleet, t: float) -> None:
        pend = det.pending()
        det._pending = {}
        if t < WARMUP_S:
            return
        for st, f, rows in pend.values():
            ls, lp = _labels(fleet, f.design_id, f.vehicle_ids)
            fs = st.sensor_features(rows)
            flat = ls.reshape(-1)
            # Keep every faulted row and a sample of healthy ones: healthy rows
            # outnumber faulted ones ~100:1 and say the same thing over and over.
            keep = (flat > 0) | ((flat == 0) & (rng.random(len(flat)) < 0.05))
            xs.append(fs[keep])
            ys.append(flat[keep])
            pk = lp >= 0
            xp.append(st.pack_features(rows, f.inlet_c, f.ambient_c)[pk])
            yp.append(lp[pk])

    detector_passes(run, det, on_pass)
    x_s, y_s = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    x_p, y_p = np.concatenate(xp), np.concatenate(yp).astype(np.int64)
    sensor = RandomForestClassifier(
        n_estimators=40, max_depth=10, min_samples_leaf=40, random_state=1, n_jobs=1
    ).fit(x_s, y_s)
    pack = RandomForestClassifier(
        n_estimators=40, max_depth=8, min_samples_leaf=40, random_state=2, n_jobs=1
    ).fit(x_p, y_p)
    meta_s, meta_p = _meta(data_hash(x_s, y_s), run.name), _meta(data_hash(x_p, y_p), run.name)
    export(sensor, out / "sensor.onnx", SENSOR_FEATURES, meta_s)
    export(pack, out / "pack.onnx", PACK_FEATURES, meta_p)
    th = calibrate(out)
    export(sensor, out / "sensor.onnx", SENSOR_FEATURES,
           {**meta_s, "thresholds": json.dumps(th["sensor"])})  # fmt: skip
    export(pack, out / "pack.onnx", PACK_FEATURES,
           {**meta_p, "thresholds": json.dumps({"cooling_failure": th["cooling"]})})  # fmt: skip


#: Passes a finding must persist to become a condition (hold 60 s at 30 s passes).
PERSIST_PASSES = 3


def calibrate(out: Path) -> dict[str, Any]:
    """Per-class thresholds: just above the highest probability that persisted for
    PERSIST_PASSES passes on any fault-free bus of a calibration fleet (own seed)."""
    run = RUNS["thermal_calib"]
    det = Detector({n: load(n, f, out) for n, f in (("expected", EXPECTED_FEATURES),
                    ("sensor", SENSOR_FEATURES), ("pack", PACK_FEATURES))})  # fmt: skip
    history: dict[str, list[F32]] = {}
    worst = np.zeros(len(SENSOR_CLASSES) + 1, dtype=np.float32)

    def on_pass(fleet: Fleet, t: float) -> None:
        pend = det.pending()
        det._pending = {}
        if t < WARMUP_S:
            return
        faulty = {f.vehicle_id for f in fleet.faults}
        for st, f, rows in pend.values():
            # Calibrated on what the detector acts on: probabilities the readings back.
            x = st.sensor_features(rows)
            ps = det.models["sensor"].run(x).reshape(len(rows), st.s, -1)
            ps = ps * corroborated(x.reshape(len(rows), st.s, -1))
            pp = det.models["pack"].run(st.pack_features(rows, f.inlet_c, f.ambient_c))
            pp = pp * cooling_corroborated(st, rows)[:, None]
            for b, vid in enumerate(f.vehicle_ids):
                if vid in faulty:
                    continue
                row = np.concatenate([ps[b].max(axis=0), pp[b, 1:2]])
                h = history.setdefault(vid, [])
                h.append(row)
                del h[:-PERSIST_PASSES]
                if len(h) == PERSIST_PASSES:
                    np.maximum(worst, np.min(h, axis=0), out=worst)

    detector_passes(run, det, on_pass)
    th = np.clip(worst + 0.03, 0.5, 0.99)
    kinds = [k.value for k in SENSOR_CLASSES if k is not None]
    return {"sensor": {k: float(th[i + 1]) for i, k in enumerate(kinds)},
            "cooling": float(th[-1])}  # fmt: skip


def soh_dataset(run_name: str) -> tuple[F32, F32, F32]:
    """(features, true SoH %, true resistance growth %) at the run's window ends."""
    run = RUNS[run_name]
    at = tuple(t for t in (30 * 3600.0, 48 * 3600.0) if t <= run.duration_s)
    xs, soh, res = [], [], []
    truth: dict[str, tuple[float, float]] = {}
    last_fleet = None
    for fleet, vid, w in soh_windows(run, at):
        if fleet is not last_fleet or not truth:
            truth = true_soh(fleet)
        last_fleet = fleet
        xs.append(w.features().features)
        soh.append(truth[vid][0])
        res.append(truth[vid][1])
    return (
        np.array(xs, dtype=np.float32),
        np.array(soh, dtype=np.float32),
        np.array(res, dtype=np.float32),
    )


def train_soh(out: Path) -> None:
    """SoH quantile models (10/50/90 %) and the resistance-growth model (models/soh_model.py)."""
    x, soh, res = soh_dataset("soh_train")
    h = data_hash(x, soh, res)
    # soh_dataset yields every bus at each window end in turn: a row's bus is its index mod buses.
    groups = np.arange(len(x)) % RUNS["soh_train"].buses
    fit_soh_models(x, soh, res, groups, out, _meta(h, "soh_train"))


def train_all(out: Path = ONNX_DIR, log: bool = True) -> dict[str, float]:
    """Train every model into ``out``; returns seconds per stage."""
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    for name, fn in (("expected", train_expected), ("thermal", train_thermal),
                     ("soh", train_soh)):  # fmt: skip
        t0 = time.monotonic()
        fn(out)
        times[name] = time.monotonic() - t0
        if log:
            print(f"trained {name} in {times[name]:.0f} s", flush=True)
    return times
