"""A simulated week stays physical: ranges, energy balance, plausible ageing."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.fleet import DESIGNS, demo_buses
from services.simulator import Fleet, FleetConfig, Realism, pack_samples
from services.simulator.ageing import initial_fade
from services.simulator.params import cell_params

WEEK_S = 7 * 86400
DT = 120.0


@pytest.fixture(scope="module")
def week() -> dict[str, dict[str, np.ndarray]]:
    """One NMC and one LFP bus for a week of Chennai May at 2-minute steps, sensors ideal."""
    buses = demo_buses(3)[1:]  # BUS-0002 (NMC-R3), BUS-0003 (LFP-CALB-R1)
    fleet = Fleet(
        FleetConfig(
            vehicles=buses,
            start=datetime(2026, 5, 4, tzinfo=UTC),
            seed=11,
            soc0=0.8,
            age_days=365,
            realism=Realism.off(),
        )
    )
    soh0 = {g.vehicle_ids[0]: float(g.pack.capacity_ah[0]) for g in fleet.groups}
    cols: dict[str, dict[str, list[object]]] = {b.vehicle_id: {} for b in buses}
    for readings in fleet.run(WEEK_S, DT):
        for r in readings:
            s = pack_samples(r)[0]
            g, _ = fleet.locate(r.vehicle_ids[0])
            row = cols[r.vehicle_ids[0]]
            for key, value in (
                ("soc", s.soc_pct),
                ("current", s.pack_current_a),
                ("v", s.pack_voltage_v),
                ("cv", s.cell_voltages),
                ("t", s.cell_temps),
                ("tin", s.coolant_inlet_c),
                ("tout", s.coolant_outlet_c),
                ("amb", s.ambient_c),
                ("ins", s.insulation_kohm),
                ("inv_q", float(np.mean(1.0 / g.pack.q_ah[0]))),
                ("speed", s.speed_kmh),
            ):
                row.setdefault(key, []).append(value)
    out = {
        vid: {k: np.asarray(v, dtype=np.float64) for k, v in c.items()} for vid, c in cols.items()
    }
    for g in fleet.groups:
        vid = g.vehicle_ids[0]
        out[vid]["cap_loss"] = np.array([1.0 - float(g.pack.capacity_ah[0]) / soh0[vid]])
    return out


@pytest.mark.parametrize("vid", ["BUS-0002", "BUS-0003"])
def test_week_stays_in_physical_ranges(week: dict[str, dict[str, np.ndarray]], vid: str) -> None:
    w = week[vid]
    design = DESIGNS["NMC-R3" if vid == "BUS-0002" else "LFP-CALB-R1"]
    p = cell_params(design)
    # Charging stops at the target; a coarse step can overshoot it by one step's charge.
    overshoot = 100.0 * p.charge_c_rate * DT / 3600.0 + 0.5
    assert w["soc"].min() >= 5.0 and w["soc"].max() <= 100.0 * p.soc_max_charge + overshoot
    assert w["cv"].min() >= p.v_min and w["cv"].max() <= p.v_max + 0.02
    assert w["v"].min() >= p.v_min * design.cells_series
    assert w["v"].max() <= p.v_max * design.cells_series
    assert np.abs(w["current"]).max() < 1.2 * 400e3 / (p.v_min * design.cells_series)
    assert w["t"].min() >= w["amb"].min() - 3.0 and w["t"].max() < 50.0
    assert w["tin"].min() >= 15.0 and w["tout"].max() < 50.0
    assert w["ins"].min() > 2000.0
    # The bus did its work: it drove and charged every day.
    assert (w["speed"] > 0).mean() > 0.3
    assert (w["current"] > 20).sum() * DT / 3600 > 7 * 1.0  # > 1 h of charging a day


@pytest.mark.parametrize("vid", ["BUS-0002", "BUS-0003"])
def test_week_energy_balance(week: dict[str, dict[str, np.ndarray]], vid: str) -> None:
    w = week[vid]
    # SoC is the mean of the cells' SoC; each cell's charge moves by I dt / Q_i.
    d_soc_from_i = np.cumsum(w["current"] * DT * w["inv_q"]) / 36.0
    d_soc = w["soc"] - (w["soc"][0] - d_soc_from_i[0])
    assert np.abs(d_soc - d_soc_from_i).max() < 1.0  # SoC points, at every minute of the week
    through_i = np.abs(np.diff(d_soc_from_i)).sum()
    through_soc = np.abs(np.diff(w["soc"])).sum()
    assert through_i > 500.0  # several full cycles' worth
    assert through_soc == pytest.approx(through_i, rel=0.01)


def test_week_of_ageing_is_plausible(week: dict[str, dict[str, np.ndarray]]) -> None:
    # A year-old pack loses roughly 0.05-0.25 % of capacity in a hot week.
    for vid in ("BUS-0002", "BUS-0003"):
        loss = float(week[vid]["cap_loss"][0])
        assert 0.0003 < loss < 0.003, (vid, loss)
    assert week["BUS-0002"]["cap_loss"][0] > week["BUS-0003"]["cap_loss"][0]


def test_a_year_of_service_gives_a_realistic_soh() -> None:
    rng = np.random.default_rng(0)
    soh = {}
    for design in ("NMC-R3", "LFP-CALB-R1"):
        p = cell_params(design)
        mult = np.clip(1 + 0.08 * rng.standard_normal(200), 0.7, 1.4)
        q_cal, q_cyc = initial_fade(p, 365.0, mult)
        soh[design] = 1.0 - float(np.mean(q_cal + q_cyc))
    assert 0.90 < soh["NMC-R3"] < 0.97
    assert 0.94 < soh["LFP-CALB-R1"] < 0.985
    assert soh["LFP-CALB-R1"] > soh["NMC-R3"]


def test_start_at_a_given_soh() -> None:
    f = Fleet(FleetConfig(buses=3, soh=0.85, seed=2, start=datetime(2026, 5, 1, tzinfo=UTC)))
    for g in f.groups:
        mean_cap = g.pack.q_ah.mean(axis=1) / g.pack.q_new.mean(axis=1)
        assert mean_cap == pytest.approx(0.85, abs=0.005)
        assert (g.pack.r0 > g.pack.r_new).all()
