"""The CPU side of scoring: decoded samples in, AnomalyEvents and HealthScores out.

:class:`Scorer` is synchronous and owns every per-pack window (thermal state
and the SoH ring buffer); the service runs it in one worker thread, so only one
pass touches the state at a time. A pass groups samples by design, advances the
packs in rounds (round k holds each pack's k-th new sample, so one pack's
samples stay in order while the arithmetic runs over all packs at once), and
runs the ONNX models once per scoring step for all packs due in it.

A pack is scored at its first sample in each :data:`models.findings.SCORE_EVERY_S`
window of its own clock (one sample in 30 s at most): the cadence the model
card was evaluated at. Which samples those are depends only on the pack's
samples, not on how the broker's fetches cut the stream into passes, so a
backlog, a replay and the live stream raise the same conditions at the same
times, with the same event ids. That holds for a stream in order per bus (the
vehicle key keeps each bus on one partition): a sample older than its bus's
last one is skipped, not scored late. A restarted scorer starts its windows
afresh; the service replays the recent past into them first
(:mod:`services.scoring.warm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from models.chemistry import design_by_shape
from models.detector import Detector
from models.evaluate import load_detector
from models.findings import SCORE_EVERY_S, ConditionTracker, Transition
from models.frame import Frame
from models.limits import OPEN_SENSOR_C
from models.onnx_io import Model, load
from models.soh import SOH_FEATURES, SohWindow
from schemas.common import ConditionState
from schemas.events import AnomalyEvent, HealthScore
from schemas.fleet import DESIGNS
from schemas.packing import packed_rows
from services.scoring.samples import ScoringSample


@dataclass
class PassResult:
    """What one pass produced."""

    events: list[AnomalyEvent] = field(default_factory=list)
    health: list[HealthScore] = field(default_factory=list)
    scored: int = 0
    skipped: int = 0  # duplicates, out-of-order, or of an unknown pack shape


@dataclass
class _Pack:
    design_id: str
    pack_id: str | None
    last_ts: float = -np.inf
    scored_ts: float = -np.inf  # vehicle time of its sample last scored
    soh: SohWindow | None = None
    next_health_ts: float = -np.inf


class Scorer:
    """See the module docstring."""

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 1,
        hold_s: float = 60.0,
        clear_s: float = 900.0,
        health_every_s: float = 600.0,
        score_every_s: float = SCORE_EVERY_S,
    ) -> None:
        # 0 scores every sample (a baseline of load_tests/bench_scoring.py); may
        # change between passes.
        self.score_every_s = score_every_s
        self.detector: Detector = load_detector(model_dir, threads)
        self.soh_models: dict[str, Model] = {
            n: load(n, SOH_FEATURES, model_dir, threads)
            for n in ("soh_q10", "soh_q50", "soh_q90", "resistance")
        }
        self.tracker = ConditionTracker(hold_s, clear_s)
        self.health_every_s = health_every_s
        self.packs: dict[str, _Pack] = {}

    def run_pass(self, samples: Sequence[ScoringSample]) -> PassResult:
        """Advance every pack by its samples, score, and return events and health rows."""
        res = PassResult()
        # Per design, per pack: its samples of this pass and their timestamps.
        per_design: dict[str, dict[str, tuple[_Pack, list[ScoringSample], list[float]]]] = {}
        ts = [s.ts_s for s in samples]
        # In time order; a stable sort on the unix seconds is the order of the
        # aware datetimes (microseconds stay distinct in a float64 there).
        for k in sorted(range(len(samples)), key=ts.__getitem__):
            s, t = samples[k], ts[k]
            p = self.packs.get(s.vehicle_id) or self._pack(s)
            # A sample whose arrays do not fit its pack (a frame lost on the
            # way, a pack swapped) is not scored; ingestion validates and stores it.
            if p is None or t <= p.last_ts or not _fits(p.design_id, s):
                res.skipped += 1
                continue
            p.last_ts = t
            by_pack = per_design.get(p.design_id)
            if by_pack is None:
                by_pack = per_design[p.design_id] = {}
            q = by_pack.get(s.vehicle_id)
            if q is None:
                by_pack[s.vehicle_id] = (p, [s], [t])
            else:
                q[1].append(s)
                q[2].append(t)
            res.scored += 1
        for design_id, by_pack in per_design.items():
            queues = list(by_pack.values())
            rounds = max(len(q[1]) for q in queues)
            for k in range(rounds):
                batch = [q for q in queues if len(q[1]) > k]
                samples_k, ts_k = [q[1][k] for q in batch], [q[2][k] for q in batch]
                f = _frame(design_id, samples_k, ts_k)
                self.detector.update(f)
                self._soh_append(f, [q[0] for q in batch])
                due = set()
                for q, sample, t in zip(batch, samples_k, ts_k, strict=True):
                    if self._due(q[0].scored_ts, t):
                        q[0].scored_ts = t
                        due.add(sample.vehicle_id)
                if due:
                    self._score(res, due)
        return res

    def needs_history(self, samples: Sequence[ScoringSample], gap_s: float) -> dict[str, float]:
        """Vehicles of ``samples`` whose stored history this scorer has not seen, each
        with its earliest sample's time (unix seconds): those it holds no window of,
        and those back after more than ``gap_s`` without a sample. Samples of no
        known pack shape are left out (they are never scored)."""
        out: dict[str, float] = {}
        for s in samples:
            p = self.packs.get(s.vehicle_id)
            if p is None and design_by_shape(s.n_cells, s.n_temps) is None:
                continue
            if p is None or s.ts_s - p.last_ts > gap_s:
                t = out.get(s.vehicle_id)
                out[s.vehicle_id] = s.ts_s if t is None else min(t, s.ts_s)
        return out

    def _due(self, last: float, t: float) -> bool:
        """Whether a pack last scored at ``last`` is scored at its sample ``t``: the
        first in a new ``score_every_s`` window of its clock (every sample at 0)."""
        every = self.score_every_s
        return every <= 0 or last == -np.inf or t // every > last // every

    def _score(self, res: PassResult, due: set[str]) -> None:
        """Score the packs of the vehicles ``due``; add their events and health rows."""
        findings, seen = self.detector.score(only=due)
        now = datetime.now(UTC)
        res.events.extend(self._event(tr, now) for tr in self.tracker.observe(findings, seen))
        res.health.extend(self._health(seen))

    def _pack(self, s: ScoringSample) -> _Pack | None:
        p = self.packs.get(s.vehicle_id)
        if p is None:
            d = design_by_shape(s.n_cells, s.n_temps)
            if d is None:
                return None
            p = self.packs[s.vehicle_id] = _Pack(d.design_id, s.pack_id, soh=SohWindow(d))
        return p

    def _soh_append(self, f: Frame, packs: list[_Pack]) -> None:
        """Append each pack's sample of ``f`` (``packs`` in its order) to its SoH window."""
        valid = f.temps > OPEN_SENSOR_C
        tmean = (
            np.where(valid, f.temps, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
        ).tolist()
        vmean = f.cell_v.mean(axis=1).tolist()
        ts, cur = f.ts_s.tolist(), f.current_a.tolist()
        # Iterating over f.cell_v gives its rows at a third of the cost of f.cell_v[b].
        for p, t, i, cell_v, tm, vm in zip(packs, ts, cur, f.cell_v, tmean, vmean, strict=True):
            w = p.soh
            assert w is not None
            w.append(t, i, cell_v, tm, vm)

    def _health(self, seen: dict[str, float]) -> list[HealthScore]:
        due = [v for v, ts in seen.items() if ts >= self.packs[v].next_health_ts]
        if not due:
            return []
        feats = [self.packs[v].soh.features() for v in due]  # type: ignore[union-attr]
        x = np.array([f.features for f in feats], dtype=np.float32)
        q = {n: m.run(x).reshape(-1) for n, m in self.soh_models.items()}
        out = []
        for k, v in enumerate(due):
            p = self.packs[v]
            p.next_health_ts = seen[v] + self.health_every_s
            assert p.soh is not None
            lo, mid, hi = sorted((float(q["soh_q10"][k]), float(q["soh_q50"][k]),
                                  float(q["soh_q90"][k])))  # fmt: skip
            out.append(HealthScore(
                vehicle_id=v, pack_id=p.pack_id, ts=datetime.fromtimestamp(seen[v], tz=UTC),
                soh_pct=mid, soh_low_pct=lo, soh_high_pct=hi,
                capacity_ah=mid / 100.0 * p.soh.design.nominal_ah,
                resistance_growth_pct=float(q["resistance"][k]),
                weak_cell_indices=feats[k].weak_cells,
                model_version=self.soh_models["soh_q50"].version,
            ))  # fmt: skip
        return out

    def _event(self, tr: Transition, now: datetime) -> AnomalyEvent:
        f = tr.finding
        state = ConditionState.ACTIVE if tr.state == "active" else ConditionState.CLEARED
        return AnomalyEvent(
            event_id=tr.event_id,
            vehicle_id=f.vehicle_id,
            pack_id=self.packs[f.vehicle_id].pack_id,
            ts=datetime.fromtimestamp(tr.ts, tz=UTC),
            detected_at=now,
            kind=f.kind,
            severity=f.severity,
            state=state,
            cell_index=f.cell,
            sensor_index=f.sensor,
            score=f.score,
            evidence={
                **f.evidence,
                "onset_ts": datetime.fromtimestamp(tr.onset_ts, tz=UTC).isoformat(),
            },  # fmt: skip
            model_version=f.source,
            raised=tr.raised,
        )


def _fits(design_id: str, s: ScoringSample) -> bool:
    d = DESIGNS[design_id]
    return s.n_cells == d.cells_series and s.n_temps == d.temp_sensors


def _frame(design_id: str, samples: list[ScoringSample], ts_s: list[float]) -> Frame:
    """A frame of ``samples`` (one per pack, all of one design and shape)."""
    f64 = np.float64
    return Frame(
        design_id=design_id,
        vehicle_ids=[s.vehicle_id for s in samples],
        ts_s=np.array(ts_s, dtype=f64),
        current_a=np.array([s.current_a for s in samples], dtype=f64),
        cell_v=packed_rows([s.cells for s in samples], samples[0].n_cells),
        temps=packed_rows([s.temps for s in samples], samples[0].n_temps),
        inlet_c=np.array([s.inlet_c for s in samples], dtype=f64),
        outlet_c=np.array([s.outlet_c for s in samples], dtype=f64),
        ambient_c=np.array([s.ambient_c for s in samples], dtype=f64),
        insulation_kohm=np.array([s.insulation_kohm for s in samples], dtype=f64),
    )
