"""Simulated fleets for training and evaluation, from fixed seeds, as frames and truth.

Training and held-out evaluation differ in seed, fleet size, pack ages (so
SoH), depots and sensor noise, so the evaluation measures generalisation to
buses the models never saw. Frames come straight from the simulator's readings
quantised through the DBC (what a decoder would publish), skipping message
objects: the fastest path the simulator offers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from models.frame import Frame
from schemas.fleet import Bus, demo_buses
from services.simulator import Fleet, FleetConfig, Readings, Realism
from services.simulator.encode import quantise

FAULT_KINDS = (
    "cooling_failure",
    "self_heating_cell",
    "connection_hot_spot",
    "sensor_fault",
    "insulation_fault",
)


@dataclass(frozen=True)
class SimRun:
    """One simulated fleet run."""

    name: str
    seed: int
    buses: int
    duration_s: float
    dt: float
    faults_per_kind: int
    max_age_days: int
    realism: Realism
    first_bus: int = 1
    faults: str = ""  # a fixed --faults SPEC instead of random faults_per_kind


#: The severe run's faults, each starting in service (from 08:00 local time):
#: eight shorts at severities 0.8-1 on BUS-0601..0608, then two stopped pumps
#: and two dead chillers on BUS-0609..0612.
SEVERE_FAULTS = ",".join(
    [f"self_heating_cell:BUS-{601 + k:04d}@{2.5 + 0.3 * k:.1f}h:severity={s}"
     for k, s in enumerate((0.8, 0.85, 0.85, 0.9, 0.9, 0.95, 1.0, 0.88))]
    + [f"cooling_failure:BUS-{609 + k:04d}@{2.5 + 0.5 * k:.1f}h:mode={m}:severity=1"
       for k, m in enumerate(("pump", "pump", "fan", "fan"))]
)  # fmt: skip

RUNS: dict[str, SimRun] = {
    "thermal_train": SimRun("thermal_train", 1001, 30, 12 * 3600.0, 10.0, 6, 2000, Realism()),
    "soh_train": SimRun("soh_train", 1002, 48, 48 * 3600.0, 30.0, 0, 2600, Realism()),
    "thermal_calib": SimRun("thermal_calib", 1004, 24, 12 * 3600.0, 10.0, 0, 2000, Realism()),
    "expected_train": SimRun("expected_train", 1003, 24, 12 * 3600.0, 30.0, 0, 2000, Realism()),
    # Held out: other seeds, more noise, other ages and vehicle numbers (other depots).
    "thermal_eval": SimRun("thermal_eval", 7001, 36, 12 * 3600.0, 10.0, 6, 2400,
                           Realism(temp_noise_c=0.3, sensor_bias_c=0.4), first_bus=101),
    "healthy_eval": SimRun("healthy_eval", 7002, 60, 24 * 3600.0, 10.0, 0, 2400,
                           Realism(temp_noise_c=0.3, sensor_bias_c=0.4), first_bus=201),
    "soh_eval": SimRun("soh_eval", 7003, 30, 48 * 3600.0, 30.0, 0, 2800,
                       Realism(cell_v_noise_v=0.001), first_bus=301),
    # Held out: the severe band, which the random run barely reaches (models/severity_bands.md).
    "thermal_severe": SimRun("thermal_severe", 7201, 12, 6 * 3600.0, 10.0, 0, 2400,
                             Realism(temp_noise_c=0.3, sensor_bias_c=0.4), first_bus=601,
                             faults=SEVERE_FAULTS),
    # Small fixed held-out set for the test that the shipped files reproduce their card.
    "thermal_check": SimRun("thermal_check", 7101, 12, 6 * 3600.0, 10.0, 2, 2400,
                            Realism(temp_noise_c=0.3, sensor_bias_c=0.4), first_bus=401),
    "soh_check": SimRun("soh_check", 7102, 12, 30 * 3600.0, 30.0, 0, 2800,
                        Realism(cell_v_noise_v=0.001), first_bus=501),
}  # fmt: skip

START = datetime(2026, 5, 4, tzinfo=UTC)


def vehicles(run: SimRun) -> tuple[Bus, ...]:
    """The run's buses, with ages drawn from its seed (age sets each pack's SoH)."""
    rng = np.random.default_rng([run.seed, 7])
    base = demo_buses(run.first_bus - 1 + run.buses)[run.first_bus - 1 :]
    ages = rng.integers(0, run.max_age_days, len(base))
    return tuple(
        dataclasses.replace(b, commissioned_on=START.date() - timedelta(days=int(a)))
        if isinstance(b.commissioned_on, date)
        else b
        for b, a in zip(base, ages, strict=True)
    )


def fault_spec(run: SimRun) -> str:
    """Every fault kind ``faults_per_kind`` times on random buses, random severities.

    A run with a fixed ``faults`` SPEC has those instead.
    """
    if run.faults:
        return run.faults
    if run.faults_per_kind == 0:
        return ""
    return ",".join(f"{k}:random:count={run.faults_per_kind}" for k in FAULT_KINDS)


def build(run: SimRun) -> Fleet:
    """The run's fleet, ready to step."""
    cfg = FleetConfig(
        vehicles=vehicles(run),
        seed=run.seed,
        start=START,
        faults=fault_spec(run),
        horizon_s=run.duration_s,
        realism=run.realism,
    )
    return Fleet(cfg)


def frame_of(r: Readings) -> Frame:
    """The frame a decoder would produce from one group's readings (DBC resolution)."""
    q = quantise
    return Frame(
        design_id=r.design_id,
        vehicle_ids=list(r.vehicle_ids),
        ts_s=r.ts_us.astype(np.float64) / 1e6,
        current_a=q("HVESS_Current", r.pack_current_a),
        cell_v=q("CellVoltage000", r.cell_voltages),
        temps=q("TempSensor00", r.cell_temps),
        inlet_c=q("HVESS_CoolantInletTemp", r.coolant_inlet_c),
        outlet_c=q("HVESS_CoolantOutletTemp", r.coolant_outlet_c),
        ambient_c=q("AmbientAirTemp", r.ambient_c),
        insulation_kohm=q("Insulation_ResistanceSystem", r.insulation_kohm),
    )


def frames(fleet: Fleet, duration_s: float, dt: float) -> Iterator[tuple[float, list[Frame]]]:
    """(simulation time, one frame per design group) after each step."""
    for readings in fleet.run(duration_s, dt):
        yield fleet.t_s, [frame_of(r) for r in readings]


def bus_clock_offset(fleet: Fleet, vehicle_id: str) -> float:
    """Bus clock minus true time at the start (labels are in true time)."""
    g, row = fleet.locate(vehicle_id)
    return float(g.clock_offset_s[row])


def true_soh(fleet: Fleet) -> dict[str, tuple[float, float]]:
    """Per vehicle: (SoH % = usable capacity over nominal, resistance growth % over new)."""
    out: dict[str, tuple[float, float]] = {}
    for g in fleet.groups:
        p = g.pack
        soh = 100.0 * p.capacity_ah / p.p.capacity_ah
        rg = 100.0 * (p.r0.mean(axis=1) / p.p.r0_ohm - 1.0)
        for k, vid in enumerate(g.vehicle_ids):
            out[vid] = (float(soh[k]), float(rg[k]))
    return out
