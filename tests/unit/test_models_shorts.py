"""The internal-short check: a sensor's heat together with its cell's voltage drop.

One simulated NMC bus in service, through the shipped detector. A short that
takes its cell past the thermal limit within the hour is found by the physics
check, at its cell, within minutes; a sensor drifting up as fast, with every
cell voltage healthy, is not called a short.
"""

from __future__ import annotations

from datetime import UTC, datetime

from models.detector import PHYSICS_VERSION
from models.evaluate import load_detector
from models.findings import Finding
from models.simdata import frame_of
from schemas.common import AnomalyKind
from schemas.fleet import Bus
from services.simulator import Fleet, FleetConfig, Realism

ONSET_S = 2400.0
CELL, SENSOR = 50, 12  # NMC-R3: four cells a sensor


def _short_findings(
    faults: str, after_s: float = 900.0
) -> tuple[list[tuple[float, Finding]], float]:
    """Physics-check shorts (time after onset, finding), and SENSOR's hottest local residual."""
    bus = (Bus("BUS-0001", "CHN-MDV", "NMC-R3", "PK-1"),)
    fleet = Fleet(FleetConfig(vehicles=bus, start=datetime(2026, 5, 4, 2, 30, tzinfo=UTC),
                              seed=3, faults=faults,
                              realism=Realism(temp_noise_c=0.3, sensor_bias_c=0.4)))  # fmt: skip
    det = load_detector()
    out = []
    hottest = -99.0
    for k, readings in enumerate(fleet.run(ONSET_S + after_s, 10.0)):
        for r in readings:
            det.update(frame_of(r))
        if k % 3 == 2:
            st = det.state("NMC-R3")
            hottest = max(hottest, float(st.loc_f[st.rows["BUS-0001"], SENSOR]))
            findings, _ = det.score()
            shorts = [f for f in findings if f.kind is AnomalyKind.SELF_HEATING_CELL]
            out += [(fleet.t_s - ONSET_S, f) for f in shorts if f.source == PHYSICS_VERSION]
    return out, hottest


def test_a_severe_short_is_found_at_its_cell_within_minutes() -> None:
    found, _ = _short_findings(
        f"self_heating_cell:BUS-0001@{ONSET_S:.0f}s:cell={CELL}:severity=0.9"
    )
    assert found, "the short was not found"
    t, f = found[0]
    assert 0.0 <= t <= 420.0
    assert (f.sensor, f.cell) == (SENSOR, CELL)
    drain, heat = f.evidence["cell_drain_mv"], f.evidence["local_residual_c"]
    assert isinstance(drain, float) and drain <= -10.0
    assert isinstance(heat, float) and heat >= 1.2


def test_a_drifting_sensor_is_not_a_short() -> None:
    # 5 degC an hour for 40 minutes: the sensor reads as hot as a short's, its cells are well.
    spec = f"sensor_fault:BUS-0001@{ONSET_S:.0f}s:mode=drift:sensor={SENSOR}:severity=1"
    found, hottest = _short_findings(spec, after_s=2400.0)
    assert hottest >= 2.0  # this seed's drift is upward
    assert found == []
