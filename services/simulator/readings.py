"""What a group of buses reports: the measured values, before quantisation.

:class:`GroupSim` bundles one design group's pack and duty state with what the
measurement chain adds — sensor biases and noise, clock offsets, and the
reading-level faults (temperature sensors, insulation monitor). :func:`measure`
turns that into a :class:`Readings`: plain arrays, one row per bus, in the
units and signs of the DBC and of ``PackSample`` (current positive = charging).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.fleet import Bus
from services.simulator import faults as fl
from services.simulator.climate import IST_OFFSET_S
from services.simulator.duty import DutyState, Mode, route_position
from services.simulator.pack import PackGroup
from services.simulator.realism import Realism

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B8 = npt.NDArray[np.bool_]

#: BMS trouble codes the simulated BMS raises (proprietary SPN range 520192+), as (SPN, FMI).
DTC_OVER_TEMP = (520200, 0)
DTC_INSULATION_LOW = (520201, 1)
DTC_TEMP_SENSOR_OPEN = (520202, 5)
OPEN_SENSOR_C = -40.0  # an open NTC reads as the coldest value the BMS can report


@dataclass
class Readings:
    """One design group's report for one bus-second; arrays have one row per bus."""

    design_id: str
    vehicle_ids: list[str]
    pack_ids: list[str]
    ts_us: I64  # bus clock (with its offset and drift), microseconds since epoch
    seq: I64
    pack_voltage_v: F64
    bus_voltage_v: F64
    pack_current_a: F64  # positive = charging (VSS)
    soc_pct: F64
    soh_pct: F64
    cell_voltages: F64  # (buses, cells)
    cell_temps: F64  # (buses, sensors)
    coolant_inlet_c: F64
    coolant_outlet_c: F64
    ambient_c: F64
    electronics_c: F64
    insulation_pos_kohm: F64
    insulation_neg_kohm: F64
    insulation_kohm: F64
    contactor_closed: B8
    charger_status: I64  # HVESS charger status: 0 disconnected, 2 charging
    balancing_cells: I64
    avail_discharge_kw: F64
    avail_charge_kw: F64
    charger_power_kw: F64
    speed_kmh: F64
    odometer_km: F64
    trip_km: F64
    latitude_deg: F64
    longitude_deg: F64
    energy_in_kwh: F64
    energy_out_kwh: F64
    faults: list[list[tuple[int, int]]]  # active (SPN, FMI) per bus

    @property
    def n(self) -> int:
        """Number of buses."""
        return len(self.vehicle_ids)


class GroupSim:
    """A design group: pack physics, duty, and the measurement chain of each bus."""

    def __init__(self) -> None:  # filled by build(); kept trivial for mypy's sake
        self.n = 0

    @classmethod
    def build(
        cls,
        pack: PackGroup,
        duty: DutyState,
        buses: list[Bus],
        cities: list[str],
        lat: F64,
        lon: F64,
        realism: Realism,
        rng: np.random.Generator,
    ) -> GroupSim:
        """Assemble a group and draw its per-bus sensor offsets and clocks."""
        g = cls()
        n, s = pack.n, pack.n_sensors
        g.n, g.pack, g.duty, g.realism = n, pack, duty, realism
        g.vehicle_ids = [b.vehicle_id for b in buses]
        g.pack_ids = [b.pack_id for b in buses]
        g.city_names = sorted(set(cities))
        g.city_idx = np.array([g.city_names.index(c) for c in cities], dtype=np.int64)
        g.lat0, g.lon0 = lat, lon
        g.ambient = np.full(n, 30.0)
        g.powered = np.zeros(n, dtype=np.bool_)
        g.charger_kw = np.zeros(n)
        g.sensor_bias = realism.sensor_bias_c * rng.standard_normal((n, s))
        g.current_offset = realism.current_offset_a * rng.standard_normal(n)
        g.clock_offset_s = realism.clock_offset_s * rng.standard_normal(n)
        g.clock_drift = realism.clock_drift_ppm * 1e-6 * rng.standard_normal(n)
        g.seq = rng.integers(0, 1_000_000, n).astype(np.int64)
        g.ins_nominal = rng.uniform(4000.0, 9000.0, n)
        g.ins_floor = np.full(n, np.inf)
        g.ins_onset = np.zeros(n)
        g.ins_tau_s = np.full(n, 6 * 3600.0)
        g.stuck_gain = np.ones((n, s))
        g.stuck_anchor = np.zeros((n, s))
        g.drift_rate = np.zeros((n, s))
        g.drift = np.zeros((n, s))
        g.dropout_p = np.zeros((n, s))
        return g

    # Attributes set by build(), declared for the type checker.
    pack: PackGroup
    duty: DutyState
    realism: Realism
    vehicle_ids: list[str]
    pack_ids: list[str]
    city_names: list[str]
    city_idx: I64
    lat0: F64
    lon0: F64
    ambient: F64
    powered: npt.NDArray[np.bool_]
    charger_kw: F64
    sensor_bias: F64
    current_offset: F64
    clock_offset_s: F64
    clock_drift: F64
    seq: I64
    ins_nominal: F64
    ins_floor: F64
    ins_onset: F64
    ins_tau_s: F64
    stuck_gain: F64
    stuck_anchor: F64
    drift_rate: F64
    drift: F64
    dropout_p: F64

    def apply_fault(self, f: fl.Fault, row: int, t_s: float, *, on: bool) -> None:
        """Switch fault ``f`` on (or off, restoring health) for the bus at ``row``."""
        p, s = self.pack, f.severity
        if f.kind == "cooling_failure":
            if f.mode == "pump":
                p.flow_factor[row] = 1.0 - 0.95 * s if on else 1.0
            else:
                p.chiller_factor[row] = 1.0 - s if on else 1.0
        elif f.kind == "self_heating_cell":
            assert f.cell is not None
            p.r_short[row, f.cell] = fl.short_ohm(s) if on else math.inf
            p.refresh()
        elif f.kind == "connection_hot_spot":
            assert f.cell is not None
            p.r_conn[row, f.cell] = fl.connection_ohm(s) if on else 0.0
            p.refresh()
        elif f.kind == "weak_cell":
            assert f.cell is not None
            p.cap_factor[row, f.cell] = fl.weak_capacity_factor(s) if on else 1.0
            p._apply_ageing()
        elif f.kind == "insulation_fault":
            self.ins_floor[row] = fl.insulation_floor_kohm(s) if on else math.inf
            self.ins_onset[row] = t_s
            self.ins_tau_s[row] = fl.insulation_tau_s(s)
        elif f.kind == "sensor_fault":
            assert f.sensor is not None
            j = f.sensor
            if f.mode == "stuck":
                self.stuck_gain[row, j] = 1.0 - s if on else 1.0
                self.stuck_anchor[row, j] = float(p.sensor_temps()[row, j])
            elif f.mode == "drift":
                self.drift_rate[row, j] = f.sign * fl.drift_c_per_s(s) if on else 0.0
                if not on:
                    self.drift[row, j] = 0.0
            else:
                self.dropout_p[row, j] = fl.dropout_share(s) if on else 0.0

    def advance_sensor_faults(self, dt: float) -> None:
        """Let drifting sensors drift (bounded: a real offset saturates)."""
        if self.drift_rate.any():
            self.drift = np.clip(self.drift + self.drift_rate * dt, -40.0, 40.0)


def _insulation(g: GroupSim, t_s: float, unix: float) -> tuple[F64, F64]:
    # Humidity lowers insulation a little in the early morning.
    hour = ((unix + IST_OFFSET_S) % 86400.0) / 3600.0
    healthy = g.ins_nominal * (1.0 - 0.12 * math.cos(2 * math.pi * (hour - 5.0) / 24.0))
    floor = np.minimum(g.ins_floor, healthy)
    falling = floor + (healthy - floor) * np.exp(-(t_s - g.ins_onset) / g.ins_tau_s)
    pos = np.where(np.isfinite(g.ins_floor), falling, healthy)
    neg = healthy * 1.07
    return pos, neg


def measure(g: GroupSim, t_s: float, start_unix: float, rng: np.random.Generator) -> Readings:
    """The group's readings at simulation time ``t_s``; advances each bus's sequence number."""
    p, d, r = g.pack, g.duty, g.realism
    n = p.n
    i = p.current
    col = i[:, None]
    cell_v = p.cell_v - col * p.r_conn
    if r.cell_v_noise_v:
        cell_v = cell_v + r.cell_v_noise_v * rng.standard_normal(cell_v.shape)
    true_t = p.sensor_temps()
    temps = g.stuck_anchor + g.stuck_gain * (true_t - g.stuck_anchor) + g.drift + g.sensor_bias
    if r.temp_noise_c:
        temps = temps + r.temp_noise_c * rng.standard_normal(temps.shape)
    if g.dropout_p.any():
        temps = np.where(rng.random(temps.shape) < g.dropout_p, OPEN_SENSOR_C, temps)
    closed = d.powered()
    charging = d.charging()
    current = (
        -i
        + g.current_offset * closed
        + (r.current_noise_a * rng.standard_normal(n) if r.current_noise_a else 0.0)
    )
    unix = start_unix + t_s
    pos, neg = _insulation(g, t_s, unix)
    ins = np.minimum(pos, neg)
    soc = p.soc_mean
    t_max = p.temp.max(axis=1)
    derate = np.clip((60.0 - t_max) / 15.0, 0.0, 1.0)
    avail_dis = (400.0 if p.p.chemistry == "NMC" else 350.0) * np.clip(soc / 0.15, 0, 1) * derate
    avail_chg = 180.0 * np.clip((1.0 - soc) / 0.08, 0, 1) * derate
    lat, lon = route_position(g.lat0, g.lon0, d.trip_km)
    faults: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    hot = np.flatnonzero(temps.max(axis=1) > 55.0)
    low_ins = np.flatnonzero(ins < 325.0)
    open_s = np.flatnonzero((temps <= OPEN_SENSOR_C + 0.5).any(axis=1))
    for rows, code in (
        (hot, DTC_OVER_TEMP),
        (low_ins, DTC_INSULATION_LOW),
        (open_s, DTC_TEMP_SENSOR_OPEN),
    ):
        for b in rows:
            faults[int(b)].append(code)
    ts = unix + g.clock_offset_s + g.clock_drift * t_s
    g.seq += 1
    pack_v = p.v_pack + (0.1 * rng.standard_normal(n) if r.current_noise_a else 0.0)
    return Readings(
        design_id=p.design.design_id,
        vehicle_ids=g.vehicle_ids,
        pack_ids=g.pack_ids,
        ts_us=np.round(ts * 1e6).astype(np.int64),
        seq=g.seq.copy(),
        pack_voltage_v=pack_v,
        bus_voltage_v=np.where(closed, pack_v - 0.4, 0.0),
        pack_current_a=current,
        soc_pct=100.0 * soc,
        soh_pct=100.0 * p.capacity_ah / (p.p.capacity_ah),
        cell_voltages=cell_v,
        cell_temps=temps,
        coolant_inlet_c=p.t_in.copy(),
        coolant_outlet_c=p.outlet_c(),
        ambient_c=g.ambient.copy(),
        electronics_c=g.ambient + 6.0 + 0.01 * np.abs(i),
        insulation_pos_kohm=pos,
        insulation_neg_kohm=neg,
        insulation_kohm=ins,
        contactor_closed=closed,
        charger_status=np.where(charging, 2, 0).astype(np.int64),
        balancing_cells=p.balancing.sum(axis=1).astype(np.int64),
        avail_discharge_kw=avail_dis,
        avail_charge_kw=avail_chg,
        charger_power_kw=np.where(charging, np.maximum(-i * p.v_pack, 0.0) / 1000.0, 0.0),
        speed_kmh=d.speed_ms * 3.6,
        odometer_km=d.odometer_km.copy(),
        trip_km=d.trip_km.copy(),
        latitude_deg=lat,
        longitude_deg=lon,
        energy_in_kwh=p.energy_in_kwh.copy(),
        energy_out_kwh=p.energy_out_kwh.copy(),
        faults=faults,
    )


def modes(g: GroupSim) -> npt.NDArray[np.int8]:
    """Each bus's current :class:`Mode` (for tests and ground truth)."""
    return g.duty.mode.copy()


__all__ = ["GroupSim", "Mode", "Readings", "measure", "modes"]
