"""`packwatch models evaluate`: the shipped models on held-out simulated fleets.

Thermal kinds: a fault counts as detected when a condition of its kind becomes
active on its bus after its onset (for a cell or sensor fault, at its sensor or
the one next to it); delay is from onset (or from the end of the 30-minute
warm-up, for a fault present earlier) to the pass that raised it. Severity
bands: see :func:`band`. False
alerts are activations of any kind (models and rules) on buses with no fault,
per 1,000 bus-hours. SoH: mean absolute error of the median model against the
simulator's true capacity, in % of nominal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.chemistry import design_by_id
from models.detector import Detector
from models.limits import THERMAL_LIMIT_C
from models.loop import WARMUP_S, Decision, run_detector
from models.onnx_io import ONNX_DIR, load
from models.simdata import FAULT_KINDS, RUNS
from models.soh import SOH_FEATURES
from models.thermal import EXPECTED_FEATURES, PACK_FEATURES, SENSOR_FEATURES
from services.simulator import Fault, Fleet

MODERATE, SEVERE = 0.4, 0.7  # severities where the bands start (see the card)
BANDS = ("mild", "moderate", "severe")
#: Kinds whose severe band is the issue's: a fault that takes a cell past its
#: thermal limit within an hour of onset (the 5-minute target is theirs).
HEATING_KINDS = ("cooling_failure", "self_heating_cell")
HOUR_S = 3600.0


#: Cells either side of another fault's cell that its heat reaches (a sensor's four),
#: and the faults that heat their cell.
NEAR_CELLS = 4
CELL_HEATING = ("self_heating_cell", "connection_hot_spot")


class PeakWatch:
    """The hottest true cell temperature of each heating fault's pack in its first hour.

    For a cooling failure, cells near another fault of the same bus that heats
    its cell (a short, a hot joint) are left out: their heat is not the loop's,
    and would band a partly blocked pump severe beside a severe short.
    """

    def __init__(self) -> None:
        self.peak_c: dict[int, float] = {}

    def __call__(self, fleet: Fleet, t: float) -> None:
        for k, f in enumerate(fleet.faults):
            if f.kind in HEATING_KINDS and f.start_s <= t <= f.start_s + HOUR_S:
                g, row = fleet.locate(f.vehicle_id)
                temp = g.pack.temp[row]
                if f.kind == "cooling_failure":
                    temp = temp[_away_from_other_faults(fleet, f, t, len(temp))]
                hottest = float(temp.max())
                self.peak_c[k] = max(self.peak_c.get(k, hottest), hottest)


def _away_from_other_faults(
    fleet: Fleet, fault: Fault, t: float, cells: int
) -> npt.NDArray[np.bool_]:
    """Cells of ``fault``'s pack beyond NEAR_CELLS of any other fault there with a
    cell, active at ``t``."""
    keep = np.ones(cells, dtype=np.bool_)
    for o in fleet.faults:
        mine = o is not fault and o.vehicle_id == fault.vehicle_id and o.kind in CELL_HEATING
        if mine and o.cell is not None and o.start_s <= t <= o.end_s:
            keep[max(0, o.cell - NEAR_CELLS) : o.cell + NEAR_CELLS + 1] = False
    return keep


def band(f: Fault, peak_c: float | None) -> str:
    """A fault's severity band.

    Cooling failures and self-heating cells are severe when they took a cell
    past THERMAL_LIMIT_C within an hour of onset (the simulation's truth, so
    a pump failing while the bus is parked or lightly loaded is not severe,
    however little flow is left), mild below severity 0.4 and moderate
    between. The other kinds heat nothing past a limit, and are banded by
    severity alone: mild < 0.4 <= moderate < 0.7 <= severe.
    """
    if f.kind in HEATING_KINDS:
        if peak_c is not None and peak_c >= THERMAL_LIMIT_C:
            return "severe"
        return "mild" if f.severity < MODERATE else "moderate"
    return "mild" if f.severity < MODERATE else "moderate" if f.severity < SEVERE else "severe"


def load_detector(directory: Path = ONNX_DIR, threads: int = 1) -> Detector:
    """A detector on the model files in ``directory``."""
    return Detector({
        "expected": load("expected", EXPECTED_FEATURES, directory, threads),
        "sensor": load("sensor", SENSOR_FEATURES, directory, threads),
        "pack": load("pack", PACK_FEATURES, directory, threads),
    })  # fmt: skip


@dataclass
class FaultResult:
    kind: str
    mode: str
    severity: float
    band: str
    delay_s: float | None  # None = missed


def _match(fleet: Fleet, decisions: list[Decision], peaks: PeakWatch) -> list[FaultResult]:
    out = []
    for k, f in enumerate(fleet.faults):
        if f.kind not in FAULT_KINDS:
            continue
        g, _ = fleet.locate(f.vehicle_id)
        design = design_by_id(g.pack.design.design_id)
        near: set[int] | None = None
        if f.sensor is not None:
            near = {f.sensor - 1, f.sensor, f.sensor + 1}
        elif f.cell is not None:
            s = f.cell * design.temp_sensors // design.cells_series
            near = {s - 1, s, s + 1}
        delay = None
        for d in decisions:
            fd = d.transition.finding
            if fd.vehicle_id != f.vehicle_id or fd.kind.value != f.kind:
                continue
            if d.t_true < max(f.start_s, WARMUP_S) or d.t_true > f.end_s + 900.0:
                continue
            if near is not None and fd.sensor is not None and fd.sensor not in near:
                continue
            delay = d.t_true - max(f.start_s, WARMUP_S)
            break
        out.append(FaultResult(f.kind, f.mode, f.severity, band(f, peaks.peak_c.get(k)), delay))
    return out


def _stats(results: list[FaultResult]) -> dict[str, Any]:
    det = [r.delay_s for r in results if r.delay_s is not None]
    sev = [r.delay_s for r in results if r.band == "severe"]

    def q(v: list[float], p: float) -> float | None:
        return float(np.percentile(v, p)) if v else None

    bands = {}
    for name in BANDS:
        rs = [r for r in results if r.band == name]
        bands[name] = {
            "faults": len(rs),
            "detection_rate": sum(r.delay_s is not None for r in rs) / len(rs) if rs else None,
            "p95_delay_s": q([r.delay_s for r in rs if r.delay_s is not None], 95),
        }
    return {
        "faults": len(results),
        "detection_rate": len(det) / len(results) if results else None,
        "median_delay_s": q(det, 50),
        "p95_delay_s": q(det, 95),
        # Pooled over the runs by severe_delays, where the p95 is taken.
        "severe_delays": sev,
        "bands": bands,
    }


def _p95_severe(delays: list[float | None]) -> float | None:
    """p95 delay of the severe-band faults; a missed one (None) counts as infinite."""
    if not delays:
        return None
    if any(d is None for d in delays):
        return float("inf")
    return float(np.percentile([d for d in delays if d is not None], 95))


def thermal_metrics(run_name: str, directory: Path = ONNX_DIR) -> dict[str, Any]:
    """Detection per kind on a faulted run, and false alerts on its fault-free buses."""
    peaks = PeakWatch()
    fleet, decisions = run_detector(RUNS[run_name], load_detector(directory), peaks)
    results = _match(fleet, decisions, peaks)
    per_kind = {k: _stats([r for r in results if r.kind == k]) for k in FAULT_KINDS}
    faulty = {f.vehicle_id for f in fleet.faults}
    healthy = [v for v in fleet.vehicle_ids if v not in faulty]
    hours = len(healthy) * (RUNS[run_name].duration_s - WARMUP_S) / 3600.0
    false = [d for d in decisions if d.transition.finding.vehicle_id in healthy]
    return {
        "kinds": per_kind,
        "healthy_bus_hours": hours,
        "false_alerts": len(false),
        "false_alert_kinds": sorted({d.transition.finding.kind.value for d in false}),
    }


def false_alert_metrics(run_name: str, directory: Path = ONNX_DIR) -> dict[str, Any]:
    """Activations on a fleet without faults."""
    run = RUNS[run_name]
    fleet, decisions = run_detector(run, load_detector(directory))
    hours = len(fleet.vehicle_ids) * (run.duration_s - WARMUP_S) / 3600.0
    kinds: dict[str, int] = {}
    for d in decisions:
        k = d.transition.finding.kind.value
        kinds[k] = kinds.get(k, 0) + 1
    return {"healthy_bus_hours": hours, "false_alerts": len(decisions), "by_kind": kinds}


def soh_metrics(run_name: str, directory: Path = ONNX_DIR) -> dict[str, Any]:
    """MAE of SoH (median model) and resistance growth, and the band's coverage."""
    from models.train import soh_dataset

    x, soh, res = soh_dataset(run_name)
    q = {n: load(n, SOH_FEATURES, directory).run(x).reshape(-1)
         for n in ("soh_q10", "soh_q50", "soh_q90", "resistance")}  # fmt: skip
    inside = (soh >= np.minimum(q["soh_q10"], q["soh_q50"])) & (
        soh <= np.maximum(q["soh_q90"], q["soh_q50"])
    )
    return {
        "windows": len(soh),
        "with_capacity": int((x[:, 1] > 0).sum()),
        "soh_mae_pct": float(np.mean(np.abs(q["soh_q50"] - soh))),
        "soh_band_coverage": float(inside.mean()),
        "resistance_mae_pct": float(np.mean(np.abs(q["resistance"] - res))),
        "true_soh_range": [float(soh.min()), float(soh.max())],
    }


def evaluate(kind: str = "full", directory: Path = ONNX_DIR) -> dict[str, Any]:
    """Everything the card and the JSON line report; ``kind`` "full" or "check" (small set)."""
    if kind == "check":
        th = thermal_metrics("thermal_check", directory)
        fa_h, fa_n = th["healthy_bus_hours"], th["false_alerts"]
        soh = soh_metrics("soh_check", directory)
        return {"thermal": th, "soh": soh, "false_alerts": fa_n, "healthy_bus_hours": fa_h}
    th = thermal_metrics("thermal_eval", directory)
    fa = false_alert_metrics("healthy_eval", directory)
    severe = thermal_metrics("thermal_severe", directory)
    # The severe run's buses without a fault count as healthy hours too.
    fa_h = th["healthy_bus_hours"] + fa["healthy_bus_hours"] + severe["healthy_bus_hours"]
    fa_n = th["false_alerts"] + fa["false_alerts"] + severe["false_alerts"]
    soh = soh_metrics("soh_eval", directory)
    return {"thermal": th, "severe_run": severe, "soh": soh, "false_alerts": fa_n,
            "healthy_bus_hours": fa_h}  # fmt: skip


def severe_delays(m: dict[str, Any], kind: str) -> list[float | None]:
    """Delays of a kind's severe-band faults over the held-out run and the severe run."""
    out: list[float | None] = list(m["thermal"]["kinds"][kind]["severe_delays"])
    if "severe_run" in m:
        out += m["severe_run"]["kinds"][kind]["severe_delays"]
    return out


def summary_line(m: dict[str, Any]) -> dict[str, Any]:
    """The one-line JSON summary of ``evaluate``'s result."""
    keys = ("detection_rate", "median_delay_s", "p95_delay_s")
    return {
        "soh_mae_pct": round(m["soh"]["soh_mae_pct"], 3),
        "resistance_mae_pct": round(m["soh"]["resistance_mae_pct"], 3),
        "thermal": {
            k: {
                **{key: v[key] for key in keys},
                "p95_delay_s_severe": _p95_severe(severe_delays(m, k)),
            }
            for k, v in m["thermal"]["kinds"].items()
        },  # fmt: skip
        "false_alerts_per_1000_bus_hours": round(
            1000.0 * m["false_alerts"] / max(m["healthy_bus_hours"], 1e-9), 3
        ),
    }


def render(m: dict[str, Any]) -> str:
    """Readable tables of ``evaluate``'s result."""

    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.0f}" if isinstance(x, float) else str(x)

    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{100 * rate:.0f} %"

    lines = ["kind                  faults  detected  median s  p95 s  p95 severe s"]
    for k, v in m["thermal"]["kinds"].items():
        rate = pct(v["detection_rate"])
        p95_severe = _p95_severe(severe_delays(m, k))
        lines.append(f"{k:<21} {v['faults']:>6}  {rate:>8}  {f(v['median_delay_s']):>8}  "
                     f"{f(v['p95_delay_s']):>5}  {f(p95_severe):>12}")  # fmt: skip
    lines.append("")
    lines.append("kind                  band      faults  detected")
    for k, v in m["thermal"]["kinds"].items():
        for band, b in v["bands"].items():
            rate = pct(b["detection_rate"])
            lines.append(f"{k:<21} {band:<9} {b['faults']:>6}  {rate:>8}")
    if "severe_run" in m:
        lines += ["", "severe run (fixed faults at the severe band's range, models/simdata.py)"]
        lines += ["kind                  faults  severe  detected  severe ones' delays s"]
        for k, v in m["severe_run"]["kinds"].items():
            if not v["faults"]:
                continue
            sev = v["severe_delays"]
            rate = pct(v["detection_rate"])
            lines.append(f"{k:<21} {v['faults']:>6}  {len(sev):>6}  {rate:>8}  "
                         + (" ".join(f(d) for d in sev) or "-"))  # fmt: skip
    s = m["soh"]
    lines += ["", f"SoH MAE {s['soh_mae_pct']:.2f} % over {s['windows']} windows "
              f"({s['with_capacity']} with a capacity estimate), band coverage "
              f"{100 * s['soh_band_coverage']:.0f} %, resistance-growth MAE "
              f"{s['resistance_mae_pct']:.2f} %",
              f"false alerts: {m['false_alerts']} in {m['healthy_bus_hours']:.0f} healthy "
              "bus-hours"]  # fmt: skip
    return "\n".join(lines)


def dumps(m: dict[str, Any]) -> str:
    """One JSON line (inf becomes null: JSON has no infinity)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not np.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(m), separators=(",", ":"))
