"""The anomaly detector: thermal state, ONNX models and rules, from frames to findings.

One :class:`Detector` serves any number of packs of every design. Call
:meth:`Detector.update` with each frame (one sample per pack, in time order),
then :meth:`Detector.score` to get the findings of the packs updated since the
last call: the rules on their latest readings, and the two anomaly models run
once over all of those packs (one ONNX call per model, never one per message).
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models import rules
from models.chemistry import design_by_id
from models.findings import TIME_SLACK_S, Finding
from models.frame import Frame
from models.onnx_io import Model
from models.thermal import PUMPING_SETTLE_S, SENSOR_FEATURES, SETTLE_S, ThermalState
from schemas.common import AnomalyKind, Severity

#: Sensor-model classes, in the order of its probability columns.
SENSOR_CLASSES = (
    None,
    AnomalyKind.SELF_HEATING_CELL,
    AnomalyKind.CONNECTION_HOT_SPOT,
    AnomalyKind.SENSOR_FAULT,
)
#: Fall of insulation resistance under its own peak of the last 24 hours (the
#: highest reading of each clock hour, models/thermal.py) that means a fault: the
#: healthy daily humidity swing is about +-12 % (a day's low 0.79 of its high),
#: so 0.6 leaves a wide margin. A peak that decayed instead (a day's time constant)
#: followed a slow fault down: a fall to a quarter over five hours never crossed 0.6.
INSULATION_RATIO = 0.6
#: Share of readings at the open-sensor value (10-minute average) that marks a broken
#: sensor: one open reading in five minutes; a healthy NTC never reads -40 degC here.
DROPOUT_SHARE = 0.003
#: Coolant outlet-over-inlet rise (5-minute average) that means lost flow.
COOLANT_DT_C = 6.0
#: What a sensor-model finding needs the readings to show before it is raised.
#: On the fault-free training and calibration fleets a sensor's slow local
#: residual (its departure from its neighbours, calibration offset removed)
#: stays within -1.0..+1.3 degC, its fast one within +-1.7 degC, and a cell's
#: extra series resistance under 0.13 mOhm: the model's probabilities alone
#: fire on that noise. Heating must lift its sensor 1.8 degC over its
#: neighbours on both averages (about two 1-degC DBC steps: what four cells'
#: mean shows of one cell 7 degC hot); a faulty sensor must read 2 degC off its
#: neighbours, be stuck while they move, or drop out.
HEAT_LOCAL_C = 1.8
SENSOR_LOCAL_C = 2.0
STUCK_SCORE = -2.0
#: Extra series resistance in one cell tap that is a loose connection on its own
#: (a short or a sensor fault moves no tap voltage with the current): 0.2 mOhm,
#: 1.5 times the healthy maximum; at 120 A of charge it dissipates 2.9 W in the joint.
HOT_SPOT_MOHM = 0.2
#: An internal short heats its cell and pulls its voltage down at once: its
#: current (V / R, 30-75 A in the severe band) passes the cell's own ~0.7 mOhm.
#: Heat alone is a drifting sensor or a hot joint, a low voltage alone the
#: cells' capacity spread near empty (a cell 10 % short of capacity sits 6-8 %
#: of charge under its neighbours at 12 % pack SoC, 100-280 mV down the steep
#: end of the NMC curve). Two signatures, each heat and voltage together:
#:
#: - settled: a sensor 1.2 degC over its neighbours (1-minute mean) above a cell
#:   10 mV under its own 2-hour mean (10-minute mean). Twice in 1,410 healthy
#:   bus-hours, never for 60 s on end.
#: - fresh: a sensor whose local residual rose 0.7 degC over its own 30-minute
#:   mean above a cell 15 mV under its 2-hour mean within the last minute
#:   (1-minute mean). A short's voltage step shows within a minute of onset,
#:   its heat within two to four. A low cell near empty can sit under a warm
#:   sensor for an hour, but not a newly warm one: on the fault-free training
#:   and calibration fleets no sensor above a cell 15 mV down rose more than
#:   0.46 degC (0.60 on the held-out healthy fleet).
#:
#: Severe shorts (past 55 degC within the hour) show the fresh one 2-4 minutes after
#: onset; with the 30 s its condition holds, they are found in 2.5-4.5.
SHORT_HEAT_C = 1.2
SHORT_DROP_MV = 10.0
SHORT_RISE_C = 0.7
SHORT_STEP_MV = 15.0
#: The fresh signature's condition is active after two passes (30 s) rather than
#: the tracker's 60 s: it never fired on a fault-free bus, training side or held
#: out, for one pass, and a severe short has minutes to its cell's thermal limit.
#: The settled one, which met a healthy bus twice for a pass, keeps the 60 s.
SHORT_FRESH_HOLD_S = 30.0
#: The whole pack running this much hotter over its coolant than its load explains
#: (10-minute mean over every sensor; healthy packs stay within 1 degC) is heat the
#: loop no longer carries away, once the pack has been powered an hour: a pack that
#: starts hot sheds its stored heat with the cells' time constant on their plates
#: (m cp / hA ~ 5.4 kg * 1000 J/kgK / 2.6 W/K ~ 35 min), and that is not a fault.
PACK_HOT_C = 2.0
PACK_HOT_AFTER_S = 3600.0
#: Pack residual the cooling model's finding needs beside its probability.
PACK_WARM_C = 1.0
#: How long the chiller must fall short of its duty (models/thermal.py) to be failed.
CHILLER_SHORT_S = 300.0
#: How long the inlet must sit away from both inlets the loop's specification
#: gives (models/thermal.py INLET_OFF_C) for a failed chiller or radiator fan:
#: one that still runs but pulls the inlet down slowly, or a radiator that no
#: longer brings it toward ambient. On the fault-free training and calibration
#: fleets the leaky count reached at most 260 s (the modes switching, a quantised
#: inlet at a step's edge).
INLET_OFF_S = 600.0
#: Coolant rise per C-rate squared (30-minute average) of a healthy loop: the
#: pack's I^2 R over the coolant's m cp, (280 A)^2 * ~0.15 ohm / 875 W/K ~ 13 degC
#: plus the RC losses; fitted on the fault-free training fleets, where the
#: coolant rise (5-minute average) stays within 2.4 degC of it. A rise 2.8 degC
#: over it is a loop carrying the heat on a fraction of its flow.
CDT_PER_CRATE2_C = 20.0
CDT_EXCESS_C = 2.8
#: A lower excess that holds: 2 degC over what the load explains for 15 minutes
#: on end (judged at every pass of every pack, settled or not, so that the
#: scoring service's warm-up replay rebuilds it; a gap of more than four passes
#: starts it again).
#: On the fault-free buses of the training, calibration and held-out fleets it
#: held at most 9 minutes; a pump down to a quarter of its flow at light load
#: holds it for hours (the held-out one's coolant rose 3 degC against an expected
#: 0.4-1.3 for two hours: an excess of 1.7-2.6, under the 2.8 above).
CDT_SUSTAINED_C = 2.0
CDT_SUSTAINED_S = 900.0
HOLD_GAP_S = 135.0  # over four passes (30 s apart): up to three missing passes are no break
#: A pack cooling down gives its stored heat to the coolant on top of its I^2 R:
#: its median sensor's 1-minute mean 0.5 degC under its 10-minute mean is a pack
#: cooling by ~0.5 degC in 9 minutes, ~1 kW out of ~1.1 t of cells, ~1.2 degC
#: of coolant rise at full flow. While it does, the heat balance above does not
#: hold: a healthy pack that started warm (parked in the sun, or after a hard
#: run) sheds that heat over the first hour powered, the coolant rising 3-5 degC
#: over what its load explains (tests/unit/test_scoring_scorer.py).
SHEDDING_C = -0.5


def shedding_heat(
    t_fast: npt.NDArray[np.float64], t_slow: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Packs (rows) giving stored heat to their coolant: see :data:`SHEDDING_C`.

    Judged on the median sensor, so that one faulty sensor falling fast does
    not stand in for a pack cooling down, and silence the heat-balance check.
    """
    out: npt.NDArray[np.bool_] = np.median(t_fast - t_slow, axis=1) <= SHEDDING_C
    return out


@dataclass
class Thresholds:
    """Class-probability thresholds above which a model finding is raised."""

    sensor: dict[str, float] = field(
        default_factory=lambda: {
            "self_heating_cell": 0.75,
            "connection_hot_spot": 0.75,
            "sensor_fault": 0.75,
        }
    )
    cooling: float = 0.75


#: Calibration's ceiling (models/train.py): a class whose fault-free calibration
#: fleet pushed its threshold up to here has no operating point without false
#: alerts, so the detector leaves that class to the physics checks.
CALIBRATION_CEILING = 0.99
OFF = 1.01  # above any probability


def thresholds_of(models: dict[str, Model]) -> Thresholds:
    """Thresholds calibrated at training time, from the model files' metadata."""
    th = Thresholds()
    sensor, pack = models.get("sensor"), models.get("pack")
    if sensor is not None and "thresholds" in sensor.metadata:
        th.sensor.update(json.loads(sensor.metadata["thresholds"]))
    if pack is not None and "thresholds" in pack.metadata:
        th.cooling = float(json.loads(pack.metadata["thresholds"])["cooling_failure"])
    th.sensor = {k: OFF if v >= CALIBRATION_CEILING else v for k, v in th.sensor.items()}
    th.cooling = OFF if th.cooling >= CALIBRATION_CEILING else th.cooling
    return th


class Detector:
    """See the module docstring. ``models`` maps name -> Model ("expected", "sensor", "pack")."""

    def __init__(self, models: dict[str, Model], thresholds: Thresholds | None = None) -> None:
        self.models = models
        self.th = thresholds or thresholds_of(models)
        self.states: dict[str, ThermalState] = {}
        # Per design: its state, and the frames of the updates since the last
        # score with their rows (merged by :meth:`pending`).
        self._pending: dict[str, tuple[ThermalState, list[Frame], list[npt.NDArray[np.intp]]]] = {}
        # Insulation history of packs not yet seen (vehicle -> clock hours, readings),
        # merged into their rings after their first sample (:meth:`seed_insulation`).
        self._ins_seeds: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}

    def state(self, design_id: str) -> ThermalState:
        """The thermal state of a design's packs, created on first use."""
        st = self.states.get(design_id)
        if st is None:
            exp = self.models.get("expected")
            st = ThermalState(design_by_id(design_id), exp.run if exp is not None else None)
            self.states[design_id] = st
        return st

    def update(self, f: Frame) -> npt.NDArray[np.intp]:
        """Advance the packs in ``f``; remembers their latest sample for :meth:`score`."""
        st = self.state(f.design_id)
        rows = st.update(f)
        if self._ins_seeds:
            for b, vid in enumerate(f.vehicle_ids):
                seed = self._ins_seeds.pop(vid, None)
                if seed is not None:
                    st.seed_insulation(int(rows[b]), *seed)
        # The frames are merged once, when scored: merging at every update
        # copied the packs' readings once per round of a pass.
        prev = self._pending.get(f.design_id)
        if prev is None:
            self._pending[f.design_id] = (st, [f], [rows])
        else:
            prev[1].append(f)
            prev[2].append(rows)
        return rows

    def seed_insulation(
        self,
        vehicle_id: str,
        hours: npt.NDArray[np.float64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Stored insulation readings of ``vehicle_id``, of the hours up to its sample here.

        A restarted scorer replays only its warm-up (minutes), where the
        insulation check compares with the highest reading of the last 24 clock
        hours: the stored history of the hours before (``hours``: unix seconds //
        3600; ``values``: kOhm) fills the rest of that day, and of hours another
        scorer held. Merged into the pack's ring at its next sample
        (:meth:`update`), which for a new pack starts the ring first.
        """
        self._ins_seeds[vehicle_id] = (hours, values)

    def pending(self) -> dict[str, tuple[ThermalState, Frame, npt.NDArray[np.intp]]]:
        """Packs updated since the last score, per design (state, latest frame, rows)."""
        return {d: (st, *_latest(st, fs, rs)) for d, (st, fs, rs) in self._pending.items()}

    def score(self, only: AbstractSet[str] | None = None) -> tuple[list[Finding], dict[str, float]]:
        """Findings for the packs updated since the last call, and each pack's pass time.

        With ``only``, just those of these vehicles. The other packs' samples
        since the last call are dropped: a caller that scores a pack right after
        updating it (services.scoring) never needs its older samples.
        """
        out: list[Finding] = []
        seen: dict[str, float] = {}
        pend = self.pending()
        self._pending = {}
        if only is not None:
            pend = _only(pend, only)
        sensor_model, pack_model = self.models.get("sensor"), self.models.get("pack")
        for st, f, rows in pend.values():
            for vid, ts in zip(f.vehicle_ids, f.ts_s.tolist(), strict=True):
                seen[vid] = ts
            out.extend(rules.evaluate(st, rows, f))
            pumping = pumping_settled(st, rows)
            # Every pack's, settled or not: a warm-up replay rebuilds the hold.
            excess = coolant_excess(st, rows, pumping)
            held = st.coolant_excess_held_s(rows, excess >= CDT_SUSTAINED_C, f.ts_s, HOLD_GAP_S)
            out.extend(self._insulation(st, rows, f))
            out.extend(self._open_sensors(st, rows, f))
            # Models judge a pack only once its averages have settled.
            settled = np.flatnonzero(f.ts_s - st.first_ts[rows] >= SETTLE_S)
            if len(settled) == 0:
                continue
            fs, rs = f.take(settled), rows[settled]
            x = st.sensor_features(rs).reshape(len(rs), st.s, -1)
            out.extend(self._hot_joints(st, rs, fs, x))
            out.extend(self._shorts(st, rs, fs, x))
            if sensor_model is not None:
                prob = sensor_model.run(x.reshape(len(rs) * st.s, -1)).reshape(len(rs), st.s, -1)
                prob = prob * corroborated(x)
                out.extend(self._sensor_findings(st, rs, fs, prob, sensor_model.version))
            # The cooling checks run with or without the pack model's file.
            if pack_model is not None:
                pp = pack_model.run(st.pack_features(rs, fs.inlet_c, fs.ambient_c))
                version = pack_model.version
            else:
                pp, version = np.zeros((len(rs), 2), dtype=np.float32), PHYSICS_VERSION
            out.extend(
                self._pack_findings(
                    st, rs, fs, pp, version, pumping[settled], excess[settled], held[settled]
                )
            )
        return out, seen

    def _insulation(self, st: ThermalState, rows: npt.NDArray[np.intp], f: Frame) -> list[Finding]:
        peak = st.insulation_peak(rows)
        ratio = f.insulation_kohm / np.maximum(peak, 1e-9)
        out = []
        for b in np.flatnonzero(ratio < INSULATION_RATIO):
            out.append(Finding(f.vehicle_ids[b], AnomalyKind.INSULATION_FAULT, Severity.WARNING,
                               float(1.0 - ratio[b]), "trend-1",
                               evidence={"insulation_kohm": float(f.insulation_kohm[b]),
                                         "daily_peak_kohm": float(peak[b]),
                                         "ratio": float(ratio[b]),
                                         "limit_ratio": INSULATION_RATIO}))  # fmt: skip
        return out

    def _open_sensors(
        self, st: ThermalState, rows: npt.NDArray[np.intp], f: Frame
    ) -> list[Finding]:
        """A sensor that reads the BMS's open-circuit value is broken: no model needed."""
        out = []
        share = st.drop[rows]
        for b, j in zip(*np.nonzero(share >= DROPOUT_SHARE), strict=True):
            out.append(Finding(f.vehicle_ids[b], AnomalyKind.SENSOR_FAULT, Severity.INFO,
                               float(share[b, j]), "plausibility-1", sensor=int(j),
                               evidence={"mode": "dropout", "dropout_share": float(share[b, j]),
                                         "limit_share": DROPOUT_SHARE}))  # fmt: skip
        return out

    def _hot_joints(
        self, st: ThermalState, rows: npt.NDArray[np.intp], f: Frame, x: npt.NDArray[np.float32]
    ) -> list[Finding]:
        """A cell tap whose voltage follows the current through an extra resistance."""
        out = []
        rex = x[:, :, _REX]
        for b in np.flatnonzero(rex.max(axis=1) >= HOT_SPOT_MOHM):
            j = int(np.argmax(rex[b]))
            r = int(rows[b])
            cell, r_mohm, drain = st.cell_evidence(r, j, by="resistance")
            out.append(Finding(f.vehicle_ids[b], AnomalyKind.CONNECTION_HOT_SPOT, Severity.WARNING,
                               r_mohm, PHYSICS_VERSION, sensor=j, cell=cell,
                               evidence={"r_excess_mohm": r_mohm, "limit_mohm": HOT_SPOT_MOHM,
                                         "sensor_temp_c": float(st.t_hold[r, j]),
                                         "local_residual_c": float(st.loc_f[r, j]),
                                         "cell_drain_mv": drain}))  # fmt: skip
        return out

    def _shorts(
        self, st: ThermalState, rows: npt.NDArray[np.intp], f: Frame, x: npt.NDArray[np.float32]
    ) -> list[Finding]:
        """A sensor heating over its neighbours above a cell whose voltage fell (SHORT_HEAT_C)."""
        out = []
        settled = (x[:, :, _LOCAL] >= SHORT_HEAT_C) & (x[:, :, _DRAIN] <= -SHORT_DROP_MV)
        step = st.quick_drain(rows)
        fresh = (x[:, :, _RISE] >= SHORT_RISE_C) & (step <= -SHORT_STEP_MV)
        hit = settled | fresh
        for b in np.flatnonzero(hit.any(axis=1)):
            j = int(np.argmax(np.where(hit[b], x[b, :, _LOCAL], -np.inf)))
            r = int(rows[b])
            # The cell the signature that fired points at: the settled one's by its
            # drain (and resistance), the fresh one's by its step.
            signature = "settled" if settled[b, j] else "fresh"
            cell, rex, drain = st.cell_evidence(r, j, by="both" if settled[b, j] else "step")
            cell_step = float(st.quick_step(rows[b : b + 1])[0, cell])
            out.append(Finding(f.vehicle_ids[b], AnomalyKind.SELF_HEATING_CELL, Severity.CRITICAL,
                               float(x[b, j, _LOCAL]), PHYSICS_VERSION, sensor=j, cell=cell,
                               hold_s=SHORT_FRESH_HOLD_S if fresh[b, j] else None,
                               evidence={"signature": signature,
                                         "local_residual_c": float(x[b, j, _LOCAL]),
                                         "limit_local_c": SHORT_HEAT_C,
                                         "local_rise_c": float(x[b, j, _RISE]),
                                         "limit_rise_c": SHORT_RISE_C,
                                         "cell_drain_mv": drain,
                                         "limit_drain_mv": -SHORT_DROP_MV,
                                         "cell_step_mv": cell_step,
                                         "limit_step_mv": -SHORT_STEP_MV,
                                         "sensor_temp_c": float(st.t_hold[r, j]),
                                         "r_excess_mohm": rex}))  # fmt: skip
        return out

    def _sensor_findings(
        self,
        st: ThermalState,
        rows: npt.NDArray[np.intp],
        f: Frame,
        prob: npt.NDArray[np.float32],
        version: str,
    ) -> list[Finding]:
        out = []
        for c, kind in enumerate(SENSOR_CLASSES):
            if kind is None:
                continue
            th = self.th.sensor[kind.value]
            p = prob[:, :, c]
            for b in np.flatnonzero(p.max(axis=1) >= th):
                j = int(np.argmax(p[b]))
                r = int(rows[b])
                cell, rex, drain = st.cell_evidence(r, j)
                ev: dict[str, float | int | str | bool | list[float] | None] = {
                    "probability": float(p[b, j]),
                    "sensor_temp_c": float(st.t_hold[r, j]),
                    "residual_c": float(st.res_f[r, j]),
                    "local_residual_c": float(st.loc_f[r, j]),
                    "dropout_share": float(st.drop[r, j]),
                    "r_excess_mohm": rex,
                    "cell_drain_mv": drain,
                }
                if kind is AnomalyKind.SENSOR_FAULT:
                    # A maintenance item: the sensor is wrong, the cells are not hot.
                    out.append(Finding(f.vehicle_ids[b], kind, Severity.INFO, float(p[b, j]),
                                       version, sensor=j, evidence=ev))  # fmt: skip
                else:
                    sev = (Severity.CRITICAL if kind is AnomalyKind.SELF_HEATING_CELL
                           else Severity.WARNING)  # fmt: skip
                    out.append(Finding(f.vehicle_ids[b], kind, sev, float(p[b, j]), version,
                                       sensor=j, cell=cell, evidence=ev))  # fmt: skip
        return out

    def _pack_findings(
        self,
        st: ThermalState,
        rows: npt.NDArray[np.intp],
        f: Frame,
        prob: npt.NDArray[np.float32],
        version: str,
        pumping: npt.NDArray[np.bool_],
        excess: npt.NDArray[np.float64],
        held: npt.NDArray[np.float64],
    ) -> list[Finding]:
        """Cooling failures of the settled packs ``rows``; ``pumping``, ``excess`` and
        ``held`` are whether their pump has run long enough (:func:`pumping_settled`),
        their coolant rise over the load (:func:`coolant_excess`) and how long it has
        held over CDT_SUSTAINED_C, as :meth:`score` judged them this pass."""
        out = []
        # Coolant warming by COOLANT_DT_C from inlet to outlet means the flow has
        # collapsed whatever the model says (healthy flow keeps it at 1-4 degC).
        # Every cooling check needs the pump running (the bus powered): a parked
        # pack's still coolant tells nothing about the loop.
        # The coolant-dT average carries a parked spell's readings into the
        # first minutes powered: judge it after three of its time constants.
        flow_lost = pumping & (st.cdt[rows] >= COOLANT_DT_C)
        # Heat balance: the coolant carries the pack's heat, I^2 R / (m cp), so at
        # a given load its rise is inversely proportional to the flow.
        flow_low = (excess >= CDT_EXCESS_C) | (held >= CDT_SUSTAINED_S - TIME_SLACK_S)
        chiller = (st.chill_s[rows] >= CHILLER_SHORT_S) | (st.inlet_off_s[rows] >= INLET_OFF_S)
        # Without the expected-temperature model the residual is the whole rise.
        pack_hot = (st.pres_m[rows] >= PACK_HOT_C) & (st.on_s[rows] >= PACK_HOT_AFTER_S)
        pack_hot &= st.expected is not None
        model = (prob[:, 1] >= self.th.cooling) & cooling_corroborated(st, rows)
        for b in np.flatnonzero(model | flow_lost | flow_low | chiller | pack_hot):
            r = int(rows[b])
            source = version if model[b] else PHYSICS_VERSION
            tmax = float(st.t_hold[r].max())
            # Lost flow under power is critical at any temperature: the pack has
            # no way left to shed heat. The other signs are warnings until hot.
            sev = Severity.CRITICAL if tmax >= 45.0 or flow_lost[b] else Severity.WARNING
            out.append(Finding(f.vehicle_ids[b], AnomalyKind.COOLING_FAILURE, sev,
                               float(prob[b, 1]), source,
                               evidence={"probability": float(prob[b, 1]),
                                         "max_temp_c": tmax,
                                         "pack_residual_c": float(st.pres_m[r]),
                                         "pack_residual_limit_c": PACK_HOT_C,
                                         "coolant_dt_c": float(st.cdt[r]),
                                         "coolant_dt_limit_c": COOLANT_DT_C,
                                         "coolant_dt_expected_c": float(
                                             CDT_PER_CRATE2_C * st.i2_s[r]),
                                         "coolant_excess_held_s": float(held[b]),
                                         "chiller_short_s": float(st.chill_s[r]),
                                         "inlet_off_s": float(st.inlet_off_s[r]),
                                         "inlet_c": float(f.inlet_c[b])}))  # fmt: skip
        return out


PHYSICS_VERSION = "physics-1"
_LOCAL, _LOCAL_SLOW, _RISE, _STUCK, _DROPOUT, _REX, _DRAIN = (
    SENSOR_FEATURES.index(n)
    for n in (
        "local_c",
        "local_slow_c",
        "local_rate_c",
        "stuck_score",
        "dropout_share",
        "r_excess_mohm",
        "v_drain_mv",
    )
)


def pumping_settled(st: ThermalState, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Packs powered (the pump running) long enough for the coolant averages to hold
    no parked spell's readings: see :data:`PUMPING_SETTLE_S` (the powered time
    counts only powered samples)."""
    out: npt.NDArray[np.bool_] = st.on_s[rows] >= PUMPING_SETTLE_S
    return out


def coolant_excess(
    st: ThermalState, rows: npt.NDArray[np.intp], pumping: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Coolant rise over what the load explains (:data:`CDT_PER_CRATE2_C`), where the
    heat balance holds: ``pumping`` (:func:`pumping_settled`), and not shedding
    stored heat (-inf elsewhere)."""
    ok = pumping & ~shedding_heat(st.t_f[rows], st.t_s[rows])
    out: npt.NDArray[np.float64] = np.where(
        ok, st.cdt[rows] - CDT_PER_CRATE2_C * st.i2_s[rows], -np.inf
    )
    return out


def cooling_corroborated(st: ThermalState, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Packs where the readings back the cooling model: pumping, and running warm over the load."""
    out: npt.NDArray[np.bool_] = (st.pwr[rows] >= 0.5) & (st.pres_m[rows] >= PACK_WARM_C)
    return out


def corroborated(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per sensor and class of :data:`SENSOR_CLASSES`: 1 where the readings back the class."""
    heat = (x[..., _LOCAL_SLOW] >= HEAT_LOCAL_C) & (x[..., _LOCAL] >= HEAT_LOCAL_C)
    joint = heat | (x[..., _REX] >= HOT_SPOT_MOHM)
    faulty = (
        (np.abs(x[..., _LOCAL_SLOW]) >= SENSOR_LOCAL_C)
        | (x[..., _STUCK] <= STUCK_SCORE)
        | (x[..., _DROPOUT] >= DROPOUT_SHARE)
    )
    out: npt.NDArray[np.float32] = np.stack(
        [np.ones_like(heat), heat, joint, faulty], axis=-1
    ).astype(np.float32)
    return out


def _only(
    pend: dict[str, tuple[ThermalState, Frame, npt.NDArray[np.intp]]], only: AbstractSet[str]
) -> dict[str, tuple[ThermalState, Frame, npt.NDArray[np.intp]]]:
    """The packs of ``pend`` whose vehicles are in ``only``."""
    out = {}
    for d, (st, f, rows) in pend.items():
        pick = np.fromiter((v in only for v in f.vehicle_ids), dtype=np.bool_, count=len(rows))
        if pick.all():
            out[d] = (st, f, rows)
        elif pick.any():
            k = np.flatnonzero(pick)
            out[d] = (st, f.take(k), rows[k])
    return out


def _latest(
    st: ThermalState, frames: list[Frame], rows: list[npt.NDArray[np.intp]]
) -> tuple[Frame, npt.NDArray[np.intp]]:
    """Each pack's latest sample of ``frames`` (updates of ``st`` in order), and its row.

    The order is that of merging update by update, later rows replacing
    earlier ones: first what survives of the first frame, then of the second...
    """
    if len(frames) == 1:
        return frames[0], rows[0]
    # From the last frame back: a row already seen in a later frame is dropped.
    taken = np.zeros(st.cap, dtype=np.bool_)
    keeps = []
    for r in reversed(rows):
        keeps.append(~taken[r])
        taken[r] = True
    keeps.reverse()
    parts = [
        (f, r) if k.all() else (f.take(np.flatnonzero(k)), r[k])
        for f, r, k in zip(frames, rows, keeps, strict=True)
        if k.any()
    ]
    if len(parts) == 1:
        return parts[0]
    return _concat([f for f, _ in parts]), np.concatenate([r for _, r in parts])


def _concat(frames: list[Frame]) -> Frame:
    return Frame(
        frames[0].design_id,
        [v for f in frames for v in f.vehicle_ids],
        np.concatenate([f.ts_s for f in frames]),
        np.concatenate([f.current_a for f in frames]),
        np.concatenate([f.cell_v for f in frames]),
        np.concatenate([f.temps for f in frames]),
        np.concatenate([f.inlet_c for f in frames]),
        np.concatenate([f.outlet_c for f in frames]),
        np.concatenate([f.ambient_c for f in frames]),
        np.concatenate([f.insulation_kohm for f in frames]),
    )
