"""Severity bands of the held-out evaluation: the issue's severe band is a consequence.

A cooling failure or self-heating cell is severe when it took a cell past the
thermal limit within an hour of onset (the simulation's true temperatures),
whatever its severity parameter; other kinds are banded by severity.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from models.evaluate import PeakWatch, band
from models.limits import THERMAL_LIMIT_C
from schemas.fleet import Bus
from services.simulator import Fault, Fleet, FleetConfig


def _fault(kind: str, severity: float, mode: str = "") -> Fault:
    return Fault(kind, mode, "BUS-0001", 0.0, math.inf, severity)


def test_heating_kinds_are_severe_by_what_they_did() -> None:
    pump = _fault("cooling_failure", 0.95, "pump")
    assert band(pump, THERMAL_LIMIT_C - 15.0) == "moderate"
    assert band(pump, None) == "moderate"
    assert band(pump, THERMAL_LIMIT_C + 0.1) == "severe"
    assert band(_fault("self_heating_cell", 0.2), 40.0) == "mild"
    assert band(_fault("self_heating_cell", 0.2), THERMAL_LIMIT_C) == "severe"


def test_other_kinds_are_banded_by_severity() -> None:
    assert band(_fault("sensor_fault", 0.8, "drift"), 30.0) == "severe"
    assert band(_fault("insulation_fault", 0.5), None) == "moderate"
    assert band(_fault("connection_hot_spot", 0.1), 60.0) == "mild"


def test_peak_watch_sees_the_first_hour_of_each_heating_fault_only() -> None:
    bus = (Bus("BUS-0001", "CHN-MDV", "NMC-R3", "PK-1"),)
    spec = ("self_heating_cell:BUS-0001@10m:cell=10:severity=1,"
            "cooling_failure:BUS-0001@3h:mode=pump:severity=1,"
            "sensor_fault:BUS-0001@0:mode=drift:sensor=3:severity=1")  # fmt: skip
    fleet = Fleet(FleetConfig(vehicles=bus, start=datetime(2026, 5, 4, 2, 30, tzinfo=UTC),
                              seed=1, faults=spec))  # fmt: skip
    watch = PeakWatch()
    hottest_before = 0.0
    for k in range(1500):  # 100 minutes at 4 s
        fleet.step(4.0)
        if fleet.t_s < 600.0:
            hottest_before = max(hottest_before, float(fleet.groups[0].pack.temp.max()))
        if k % 8 == 7:
            watch(fleet, fleet.t_s)
    short = next(k for k, f in enumerate(fleet.faults) if f.kind == "self_heating_cell")
    # The severe short took its cell past the limit within its hour; the pump
    # failure starts after the run, the sensor fault heats nothing.
    assert hottest_before < 40.0
    assert set(watch.peak_c) == {short}
    assert watch.peak_c[short] >= THERMAL_LIMIT_C


def test_a_cooling_failure_is_not_banded_by_another_faults_heat() -> None:
    """A partly blocked pump beside a severe short on the same bus: the short's cell
    passes the limit, the pump's band reads the rest of the pack."""
    bus = (Bus("BUS-0001", "CHN-MDV", "NMC-R3", "PK-1"),)
    spec = ("self_heating_cell:BUS-0001@10m:cell=10:severity=1,"
            "cooling_failure:BUS-0001@10m:mode=pump:severity=0.4")  # fmt: skip
    fleet = Fleet(FleetConfig(vehicles=bus, start=datetime(2026, 5, 4, 2, 30, tzinfo=UTC),
                              seed=1, faults=spec))  # fmt: skip
    watch = PeakWatch()
    for k in range(1050):  # 70 minutes at 4 s
        fleet.step(4.0)
        if k % 8 == 7:
            watch(fleet, fleet.t_s)
    short, pump = (next(k for k, f in enumerate(fleet.faults) if f.kind == kind)
                   for kind in ("self_heating_cell", "cooling_failure"))  # fmt: skip
    assert watch.peak_c[short] >= THERMAL_LIMIT_C
    assert watch.peak_c[pump] < THERMAL_LIMIT_C - 10.0
    assert band(fleet.faults[pump], watch.peak_c[pump]) == "moderate"
