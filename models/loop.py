"""Simulation loops shared by training and evaluation: frames in, features or findings out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from models.detector import Detector
from models.findings import SCORE_EVERY_S, ConditionTracker, Transition
from models.simdata import SimRun, build, frames
from models.soh import SohWindow
from services.simulator import Fleet

WARMUP_S = 1800.0  # averages need a while to settle after the first sample


def detector_passes(
    run: SimRun, detector: Detector, on_pass: Callable[[Fleet, float], None]
) -> Fleet:
    """Step ``run`` feeding ``detector``; every SCORE_EVERY_S call ``on_pass(fleet, t)``."""
    fleet = build(run)
    every = max(1, round(SCORE_EVERY_S / run.dt))
    for k, (t, fs) in enumerate(frames(fleet, run.duration_s, run.dt)):
        for f in fs:
            detector.update(f)
        if (k + 1) % every == 0:
            on_pass(fleet, t)
    return fleet


@dataclass(frozen=True)
class Decision:
    """A condition that became active during a run, on the simulator's clock."""

    transition: Transition
    t_true: float  # simulation time of the pass that decided it


def run_detector(
    run: SimRun, detector: Detector, watch: Callable[[Fleet, float], None] | None = None
) -> tuple[Fleet, list[Decision]]:
    """Run the detector with hysteresis over a fleet; returns the activations.

    ``watch(fleet, t)``, if given, is called at every pass: a look at the truth.
    """
    tracker = ConditionTracker()
    out: list[Decision] = []

    def on_pass(fleet: Fleet, t: float) -> None:
        if watch is not None:
            watch(fleet, t)
        findings, seen = detector.score()
        if t < WARMUP_S:
            return
        for tr in tracker.observe(findings, seen):
            if tr.state == "active" and not tr.raised:  # onsets; not severity raises
                out.append(Decision(tr, t))

    fleet = detector_passes(run, detector, on_pass)
    return fleet, out


def soh_windows(run: SimRun, at_s: tuple[float, ...]) -> Iterator[tuple[Fleet, str, SohWindow]]:
    """Step ``run`` keeping a SohWindow per bus; at each time in ``at_s`` yield every window."""
    fleet = build(run)
    windows: dict[str, SohWindow] = {}
    pending = sorted(at_s)
    for t, fs in frames(fleet, run.duration_s, run.dt):
        for f in fs:
            temps = np.where(f.temps > -39.5, f.temps, np.nan)
            tmean = np.nanmean(temps, axis=1)
            for b, vid in enumerate(f.vehicle_ids):
                w = windows.get(vid)
                if w is None:
                    from models.chemistry import design_by_id

                    w = windows[vid] = SohWindow(design_by_id(f.design_id))
                w.append(float(f.ts_s[b]), float(f.current_a[b]), f.cell_v[b], float(tmean[b]))
        while pending and t >= pending[0] - 1e-6:
            pending.pop(0)
            for vid, w in windows.items():
                yield fleet, vid, w
