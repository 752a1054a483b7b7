"""The fleet: buses grouped by pack design, stepped together, with faults switched in on time.

``Fleet(FleetConfig(...))`` builds every bus from the registry's designs
(:mod:`schemas.fleet`): NMC-R3 and LFP-CALB-R1 packs in separate vectorised
groups. :meth:`Fleet.step` advances duty, climate, pack physics and faults by
``dt`` seconds; :meth:`Fleet.readings` gives what the buses would report now
(with sensor noise and sensor faults, before quantisation); :meth:`Fleet.truth`
gives the hidden state the labels are made of.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from schemas.fleet import DEMO_DEPOTS, DESIGNS, Bus, demo_buses
from services.simulator import faults as fl
from services.simulator.climate import ambient_c, local_hour
from services.simulator.duty import DutyState, coarse_kinetic_w, traction_power
from services.simulator.pack import PackGroup
from services.simulator.params import VEHICLE
from services.simulator.readings import GroupSim, Readings, measure
from services.simulator.realism import Realism

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate. Every random choice derives from ``seed``.

    ``buses`` demo buses (:func:`schemas.fleet.demo_buses`) unless ``vehicles``
    lists them. ``start`` must be timezone-aware (default: now, whole second).
    Packs start aged by ``age_days`` (default: since each bus's commissioning
    date) or at ``soh`` (0..1) if given. ``horizon_s`` is the run length random
    fault start times are drawn within. ``soc0`` (0..1) fixes the starting SoC.
    """

    buses: int = 24
    vehicles: tuple[Bus, ...] | None = None
    start: datetime | None = None
    seed: int = 0
    faults: str | Sequence[fl.FaultSpec] = ""
    horizon_s: float = 86400.0
    age_days: float | None = None
    soh: float | None = None
    soc0: float | None = None
    realism: Realism = field(default_factory=Realism)


class Fleet:
    """A vectorised fleet simulation; see the module docstring."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        start = config.start or datetime.now(UTC).replace(microsecond=0)
        if start.utcoffset() is None:
            raise ValueError("FleetConfig.start must be timezone-aware")
        self.start = start
        self.start_unix = start.timestamp()
        self.t_s = 0.0
        self.tick = 0
        rng = np.random.default_rng(config.seed)
        self.rng = rng
        buses = config.vehicles if config.vehicles is not None else demo_buses(config.buses)
        self.buses = list(buses)
        depots = {d.depot_id: d for d in DEMO_DEPOTS}
        self.groups: list[GroupSim] = []
        self._where: dict[str, tuple[int, int]] = {}
        for design_id in sorted({b.design_id for b in self.buses}):
            members = [b for b in self.buses if b.design_id == design_id]
            n = len(members)
            if config.age_days is not None:
                age = np.full(n, config.age_days)
            else:
                age = np.array(
                    [max((start.date() - b.commissioned_on).days, 0) for b in members],
                    dtype=np.float64,
                )
            soh = np.full(n, np.nan if config.soh is None else config.soh)
            soc0 = np.full(n, config.soc0) if config.soc0 is not None else rng.uniform(0.6, 0.95, n)
            cities = [
                depots[b.depot_id].city if b.depot_id in depots else "Chennai" for b in members
            ]
            amb0 = np.array([float(ambient_c(c, self.start_unix)) for c in cities])
            pack = PackGroup(
                DESIGNS[design_id], n, rng, age_days=age, target_soh=soh, soc0=soc0, temp0_c=amb0
            )
            duty = DutyState(rng, n)
            lat = np.array(
                [
                    depots[b.depot_id].latitude_deg if b.depot_id in depots else 13.08
                    for b in members
                ]
            )
            lon = np.array(
                [
                    depots[b.depot_id].longitude_deg if b.depot_id in depots else 80.27
                    for b in members
                ]
            )
            g = GroupSim.build(pack, duty, members, cities, lat, lon, config.realism, rng)
            for row, b in enumerate(members):
                self._where[b.vehicle_id] = (len(self.groups), row)
            self.groups.append(g)
        specs = (
            fl.parse_spec(config.faults) if isinstance(config.faults, str) else list(config.faults)
        )
        vehicles = [
            (b.vehicle_id, DESIGNS[b.design_id].cells_series, DESIGNS[b.design_id].temp_sensors)
            for b in self.buses
        ]
        # Faults draw from their own stream, so adding a fault leaves the rest of
        # the fleet's random history (duty, noise) unchanged: a clean A/B.
        fault_rng = np.random.default_rng([config.seed, 1])
        self.faults = fl.resolve(specs, vehicles, config.horizon_s, fault_rng)
        self._pending = sorted(self.faults, key=lambda f: f.start_s)
        self._active: list[fl.Fault] = []
        self._next_plan_s = 0.0

    @property
    def now(self) -> datetime:
        """True (not bus-clock) time of the current state."""
        return self.start + timedelta(seconds=self.t_s)

    @property
    def vehicle_ids(self) -> list[str]:
        """Every bus, in group order (the order of :meth:`readings`)."""
        return [v for g in self.groups for v in g.vehicle_ids]

    def locate(self, vehicle_id: str) -> tuple[GroupSim, int]:
        """The group holding ``vehicle_id`` and its row in the group's arrays."""
        gi, row = self._where[vehicle_id]
        return self.groups[gi], row

    def step(self, dt: float = 1.0) -> None:
        """Advance the whole fleet by ``dt`` seconds.

        1 s is the bus's cadence and resolves the stop-and-go speed trace. Above
        2 s each step uses a cycle-average speed and the mean power of stopping
        and starting instead (energy, heat and ageing stay right; the second-by-
        second current does not). The thermal and ageing models stay stable up to
        300 s; above ~120 s the CC-CV charge taper and the RC transients coarsen.
        """
        if not 0.0 < dt <= 300.0:
            raise ValueError("dt must be in (0, 300] seconds")
        self._switch_faults()
        unix = self.start_unix + self.t_s
        # Ambient and the timetable change slowly: refresh them every 10 s of
        # simulated time rather than every step (they dominate small fleets' cost).
        replan = self.t_s >= self._next_plan_s
        if replan:
            self._next_plan_s = self.t_s + 10.0
            hour = float(local_hour(unix))
        for g in self.groups:
            d, pack = g.duty, g.pack
            if replan:
                g.ambient = np.array([float(ambient_c(c, unix)) for c in g.city_names])[g.city_idx]
                d.plan(np.full(g.n, hour), pack.soc_mean, pack.p.soc_max_charge)
                g.powered = d.powered()
                g.charger_kw = d.charger_kw()
            amb = g.ambient
            v, a = d.advance_speed(dt)
            mass = VEHICLE.mass_kg + d.passenger_kg
            demand = traction_power(VEHICLE, mass, v, a, amb, g.powered)
            if dt > 2.0:
                demand = demand + coarse_kinetic_w(VEHICLE, mass, v)
            pack.step(dt, demand, g.charger_kw, g.powered, amb)
            g.advance_sensor_faults(dt)
        self.t_s += dt
        self.tick += 1

    def run(self, duration_s: float, dt: float = 1.0) -> Iterator[list[Readings]]:
        """Step for ``duration_s`` and yield the readings after each step."""
        for _ in range(int(math.ceil(duration_s / dt - 1e-9))):
            self.step(dt)
            yield self.readings()

    def readings(self) -> list[Readings]:
        """What every bus reports now, one :class:`Readings` per design group."""
        return [measure(g, self.t_s, self.start_unix, self.rng) for g in self.groups]

    def _switch_faults(self) -> None:
        t = self.t_s
        while self._pending and self._pending[0].start_s <= t:
            f = self._pending.pop(0)
            g, row = self.locate(f.vehicle_id)
            g.apply_fault(f, row, t, on=True)
            self._active.append(f)
        for f in [f for f in self._active if f.end_s <= t]:
            g, row = self.locate(f.vehicle_id)
            g.apply_fault(f, row, t, on=False)
            self._active.remove(f)

    def active_faults(self) -> list[fl.Fault]:
        """Faults acting on the fleet now."""
        return list(self._active)
