"""Every fault kind leaves its signature in the reported data, where its label says.

Ten NMC buses drive a Chennai morning for three hours; nine carry one severe
fault each (from ``FleetConfig.faults``), BUS-0001 is healthy. Each test finds
its fault in the ground-truth labels (``Fleet.faults``) and checks the data.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.fleet import Bus
from schemas.pack_sample import PackSample
from services.simulator import Fault, Fleet, FleetConfig, pack_samples
from services.simulator.readings import DTC_INSULATION_LOW, DTC_TEMP_SENSOR_OPEN
from services.simulator.samples import dtc

SPEC = (
    "cooling_failure:BUS-0002@30m:mode=pump:severity=1,"
    "cooling_failure:BUS-0003@30m:mode=fan:severity=1,"
    "self_heating_cell:BUS-0004@0:cell=50:severity=1,"
    "connection_hot_spot:BUS-0005@0:cell=100:severity=1,"
    "sensor_fault:BUS-0006@30m:mode=stuck:sensor=5:severity=1,"
    "sensor_fault:BUS-0007@30m:mode=drift:sensor=7:severity=1,"
    "sensor_fault:BUS-0008@30m:mode=dropout:sensor=9:severity=1,"
    "insulation_fault:BUS-0009@30m:severity=1,"
    "weak_cell:BUS-0010:cell=30:severity=1"
)
HEALTHY_COOLING = ("BUS-0001", "BUS-0006", "BUS-0009", "BUS-0010")


class Run:
    """Samples every 30 s per bus, and the fleet (labels and truth)."""

    def __init__(self) -> None:
        buses = tuple(Bus(f"BUS-{i:04d}", "CHN-MDV", "NMC-R3", f"PK-{i}") for i in range(1, 11))
        self.fleet = Fleet(
            FleetConfig(
                vehicles=buses,
                start=datetime(2026, 5, 4, 2, 30, tzinfo=UTC),
                seed=4,
                soc0=0.9,
                faults=SPEC,
            )
        )
        self.samples: dict[str, list[PackSample]] = {b.vehicle_id: [] for b in buses}
        for k in range(5400):  # 3 h at 2 s
            self.fleet.step(2.0)
            if k % 15 == 14:
                for s in pack_samples(self.fleet.readings()[0]):
                    self.samples[s.vehicle_id].append(s)

    def label(self, kind: str, mode: str | None = None) -> Fault:
        (f,) = [f for f in self.fleet.faults if f.kind == kind and mode in (None, f.mode)]
        return f

    def late(self, vid: str, name: str) -> np.ndarray:
        """A field over the last 90 minutes (well after every onset)."""
        return np.array([getattr(s, name) for s in self.samples[vid][180:]], dtype=np.float64)

    def temps(self, vid: str) -> np.ndarray:
        return np.array([s.cell_temps for s in self.samples[vid][180:]])


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


def _delta_t(run: Run, vid: str) -> float:
    return float((run.late(vid, "coolant_outlet_c") - run.late(vid, "coolant_inlet_c")).mean())


def _spread(run: Run, vid: str) -> float:
    return float((run.late(vid, "cell_temp_max_c") - run.late(vid, "cell_temp_min_c")).mean())


def test_pump_failure_raises_coolant_delta_t_and_spread(run: Run) -> None:
    f = run.label("cooling_failure", "pump")
    assert _delta_t(run, f.vehicle_id) > 2.0
    assert _delta_t(run, f.vehicle_id) > 3 * max(_delta_t(run, v) for v in HEALTHY_COOLING)
    assert _spread(run, f.vehicle_id) > max(_spread(run, v) for v in HEALTHY_COOLING) + 0.3


def test_fan_failure_raises_coolant_inlet(run: Run) -> None:
    f = run.label("cooling_failure", "fan")
    inlet = run.late(f.vehicle_id, "coolant_inlet_c").mean()
    assert inlet > max(run.late(v, "coolant_inlet_c").mean() for v in HEALTHY_COOLING) + 1.5


def test_internal_short_heats_and_drains_its_cell(run: Run) -> None:
    f = run.label("self_heating_cell")
    assert f.cell is not None
    sensor = f.cell // 4  # NMC-R3: four cells per sensor
    t = run.temps(f.vehicle_id)
    others = np.delete(t, sensor, axis=1)
    assert (t[:, sensor] - np.median(others, axis=1)).mean() > 1.5
    assert (run.late(f.vehicle_id, "cell_voltage_min_idx") == f.cell).mean() > 0.9


def test_loose_connection_heats_locally_and_drops_voltage_under_load(run: Run) -> None:
    f = run.label("connection_hot_spot")
    assert f.cell is not None
    sensor = f.cell // 4
    t = run.temps(f.vehicle_id)
    assert (t[:, sensor] - t[:, sensor - 1]).mean() > 0.7
    healthy = run.temps("BUS-0001")
    assert abs((healthy[:, sensor] - healthy[:, sensor - 1]).mean()) < 0.6
    loaded = run.late(f.vehicle_id, "pack_current_a") < -100.0
    assert loaded.sum() > 5
    assert (run.late(f.vehicle_id, "cell_voltage_min_idx")[loaded] == f.cell).mean() > 0.9


def test_stuck_sensor_stops_following(run: Run) -> None:
    f = run.label("sensor_fault", "stuck")
    assert f.sensor is not None
    t = run.temps(f.vehicle_id)
    assert t[:, f.sensor].std() < 0.5 * t[:, f.sensor - 1].std()


def test_drifting_sensor_departs_from_its_neighbours(run: Run) -> None:
    f = run.label("sensor_fault", "drift")
    assert f.sensor is not None
    t = run.temps(f.vehicle_id)
    gap = t[-1, f.sensor] - 0.5 * (t[-1, f.sensor - 1] + t[-1, f.sensor + 1])
    assert abs(gap) > 7.0 and np.sign(gap) == f.sign


def test_dropping_out_sensor_reads_open_and_raises_a_code(run: Run) -> None:
    f = run.label("sensor_fault", "dropout")
    assert f.sensor is not None
    assert (run.temps(f.vehicle_id)[:, f.sensor] == -40.0).all()
    assert dtc(*DTC_TEMP_SENSOR_OPEN) in run.samples[f.vehicle_id][-1].fault_codes
    assert (run.temps("BUS-0001") > 0).all()


def test_insulation_falls_below_the_warning_level(run: Run) -> None:
    f = run.label("insulation_fault")
    ins = run.late(f.vehicle_id, "insulation_kohm")
    assert ins[-1] < 325.0 and ins[0] > ins[-1]
    assert dtc(*DTC_INSULATION_LOW) in run.samples[f.vehicle_id][-1].fault_codes
    assert run.late("BUS-0001", "insulation_kohm").min() > 3000.0


def test_weak_cell_is_lowest_in_truth_and_in_voltage(run: Run) -> None:
    f = run.label("weak_cell")
    g, row = run.fleet.locate(f.vehicle_id)
    assert int(g.pack.q_ah[row].argmin()) == f.cell
    assert (run.late(f.vehicle_id, "cell_voltage_min_idx") == f.cell).mean() > 0.9


def test_labels_match_the_spec(run: Run) -> None:
    assert len(run.fleet.faults) == 9
    assert {f.vehicle_id for f in run.fleet.faults} == {f"BUS-{i:04d}" for i in range(2, 11)}
    assert all(f.severity == 1.0 for f in run.fleet.faults)
    assert run.label("weak_cell").start_s == 0.0
    assert run.label("cooling_failure", "pump").start_s == 1800.0


def _short_bus(spec: str, steps: int, dt: float = 2.0) -> Fleet:
    bus = (Bus("BUS-0001", "CHN-MDV", "NMC-R3", "PK-1"),)
    start = datetime(2026, 5, 4, 2, 30, tzinfo=UTC)
    fleet = Fleet(FleetConfig(vehicles=bus, start=start, seed=1, faults=spec))
    for _ in range(steps):
        fleet.step(dt)
    return fleet


def test_severity_scales_the_signature() -> None:
    def cell_temp(spec: str) -> float:
        g, _ = _short_bus(spec, 600).locate("BUS-0001")
        return float(g.pack.temp[0, 10])

    base = cell_temp("")
    rise = [
        cell_temp(f"self_heating_cell:BUS-0001@0:cell=10:severity={sev}") - base
        for sev in (0.0, 0.6, 1.0)
    ]
    # A few watts (under a 1 degC sensor step: the sensor reads four cells' mean)
    # to severe, monotonic; the severe short is on its way past 55 degC.
    assert 0.2 < rise[0] < 1.0 < rise[1] < rise[2] and rise[2] > 20.0


def test_internal_short_pulls_its_cells_voltage_down_at_once() -> None:
    # The short's current flows through its cell's resistances: at a standstill,
    # seconds after the onset, the cell reads I_sc (R0 + ...) under its neighbours.
    def gap_mv(spec: str) -> float:
        g, _ = _short_bus(spec, 3).locate("BUS-0001")
        v = g.pack.cell_v[0]
        return float(1e3 * (np.median(v[5:16]) - v[10]))

    healthy = gap_mv("")
    short = gap_mv("self_heating_cell:BUS-0001@0:cell=10:severity=1")
    r0 = 0.35e-3  # under NMC-R3's element R0 (0.45 mOhm new, more with age)
    assert abs(healthy) < 5.0
    assert short - healthy > 3.7 / 0.05 * r0 * 1e3
