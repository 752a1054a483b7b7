"""Duty cycles of city buses: the daily timetable and the stop-and-go speed trace.

Each bus follows a shift in India Standard Time: overnight charging at the
depot, service from early morning to late evening in trips of about an hour
separated by layovers at the terminus (where buses with a pantograph
opportunity-charge), a midday break, and idle time at the depot. Within a trip
the speed trace is a state machine per bus — accelerate, cruise, brake, dwell at
a stop or signal — with random targets and durations, all vectorised over the
fleet. :func:`traction_power` turns speed into pack power with the road-load
equation, drive and regeneration efficiencies and the auxiliary/AC load.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.simulator.params import VehicleParams

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
B8 = npt.NDArray[np.bool_]

_G = 9.81
_RHO_AIR = 1.16  # warm humid air, ~32 degC


class Mode(enum.IntEnum):
    """What a bus is doing this second."""

    PARKED = 0  # at the depot, contactors open
    DEPOT_CHARGE = 1
    IDLE = 2  # powered, standing (pre-departure, break without charger)
    DRIVE = 3
    LAYOVER = 4  # at the terminus between trips, powered
    OPP_CHARGE = 5  # opportunity charging (terminus pantograph or midday top-up)


# Plain ints of Mode for the hot paths (enum attribute access is slow).
PARKED, DEPOT_CHARGE, IDLE, DRIVE, LAYOVER, OPP_CHARGE = 0, 1, 2, 3, 4, 5

# Phases of the speed state machine while driving.
_ACCEL, _CRUISE, _BRAKE, _DWELL = 0, 1, 2, 3


@dataclass
class Timetable:
    """Per-bus shift parameters (hours, local time), drawn once per bus."""

    service_start_h: F64
    service_end_h: F64
    break_start_h: F64
    trip_min: F64  # trip length, minutes
    layover_min: F64
    has_pantograph: B8  # opportunity charging at the terminus
    depot_charger_kw: F64
    opp_charger_kw: F64

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> Timetable:
        """Random but plausible timetables for ``n`` buses."""
        return cls(
            service_start_h=5.5 + rng.uniform(0.0, 1.0, n),
            service_end_h=21.5 + rng.uniform(0.0, 1.0, n),
            break_start_h=12.5 + rng.uniform(0.0, 1.5, n),
            trip_min=rng.uniform(50.0, 80.0, n),
            layover_min=rng.uniform(8.0, 15.0, n),
            has_pantograph=rng.random(n) < 0.5,
            depot_charger_kw=rng.choice(np.array([60.0, 80.0, 120.0]), n),
            opp_charger_kw=np.full(n, 150.0),
        )


class DutyState:
    """Where each bus is in its day and its speed trace; advanced by :meth:`step`."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng = rng
        self.n = n
        self.tt = Timetable.draw(rng, n)
        self.mode = np.zeros(n, dtype=np.int8)
        self.speed_ms = np.zeros(n)
        self.phase = np.full(n, _DWELL, dtype=np.int8)
        self.phase_left_s = rng.uniform(0.0, 30.0, n)
        self.target_ms = np.full(n, 8.0)
        self.odometer_km = rng.uniform(20000.0, 90000.0, n)
        self.trip_km = np.zeros(n)
        self.passenger_kg = np.full(n, 2000.0)
        self.charge_done = np.zeros(n, dtype=np.bool_)

    def plan(self, hour: F64, soc: F64, soc_target: float) -> None:
        """Choose each bus's mode for this second from the timetable and its SoC.

        ``hour`` is local time of day per bus; ``soc`` the pack's true SoC (0..1).
        A bus whose pack runs low (< 12 %) is taken out of service to charge.
        """
        tt = self.tt
        in_service = (hour >= tt.service_start_h) & (hour < tt.service_end_h)
        on_break = (hour >= tt.break_start_h) & (hour < tt.break_start_h + 1.0)
        minutes = (hour - tt.service_start_h) * 60.0
        cycle = tt.trip_min + tt.layover_min
        in_trip = np.mod(minutes, cycle) < tt.trip_min
        full = soc >= soc_target
        # Charging sessions end at the target and do not restart until SoC drops 5 %.
        self.charge_done = np.where(full, True, self.charge_done & (soc > soc_target - 0.05))
        want_charge = ~self.charge_done
        low = soc < 0.12
        mode = np.full(self.n, PARKED, dtype=np.int8)
        depot_time = ~in_service & ((hour >= tt.service_end_h + 0.5) | (hour < tt.service_start_h))
        mode[depot_time & want_charge] = DEPOT_CHARGE
        pre = ~in_service & ~depot_time
        mode[pre] = IDLE
        svc = in_service & ~on_break
        mode[svc & in_trip] = DRIVE
        lay = svc & ~in_trip
        mode[lay] = np.where(tt.has_pantograph[lay] & want_charge[lay], OPP_CHARGE, LAYOVER)
        brk = in_service & on_break
        mode[brk] = np.where(want_charge[brk], OPP_CHARGE, IDLE)
        mode[in_service & low] = OPP_CHARGE
        started = (mode == DRIVE) & (self.mode != DRIVE)
        if started.any():
            # A new trip: a fresh passenger load, starting from a standstill.
            self.passenger_kg[started] = self.rng.uniform(500.0, 4500.0, int(started.sum()))
            self.speed_ms[started] = 0.0
            self.phase[started] = _DWELL
            self.trip_km[started] = 0.0
        self.mode = mode

    def advance_speed(self, dt: float) -> tuple[F64, F64]:
        if dt > 2.0:
            return self._advance_coarse(dt)
        return self._advance_fine(dt)

    def _advance_coarse(self, dt: float) -> tuple[F64, F64]:
        """Steps longer than the stop-and-go phases: a cycle-average speed per step.

        Returns a mean speed and a zero acceleration; the energy of stopping and
        starting is added by :func:`coarse_kinetic_w` from the mean speed.
        """
        driving = self.mode == DRIVE
        v = np.where(driving, self.rng.uniform(3.0, 7.0, self.n), 0.0)  # 11-25 km/h
        self.speed_ms = v * self.rng.uniform(0.0, 2.0, self.n)  # an instantaneous reading
        self.odometer_km += v * dt / 1000.0
        self.trip_km += v * dt / 1000.0
        return v, np.zeros(self.n)

    def _advance_fine(self, dt: float) -> tuple[F64, F64]:
        """Advance the speed trace by ``dt`` s; returns (mean speed m/s, acceleration m/s²).

        Buses not driving stand still. Within a step the motion is piecewise
        constant acceleration, so distance and energy stay consistent for dt up to ~10 s.
        """
        rng = self.rng
        driving = self.mode == DRIVE
        v0 = self.speed_ms.copy()
        v = v0.copy()
        ph = self.phase
        self.phase_left_s -= dt
        acc = driving & (ph == _ACCEL)
        v[acc] = np.minimum(v[acc] + 1.0 * dt, self.target_ms[acc])
        reached = acc & (v >= self.target_ms - 1e-9)
        brk = driving & (ph == _BRAKE)
        v[brk] = np.maximum(v[brk] - 1.2 * dt, 0.0)
        stopped = brk & (v <= 0.0)
        cru = driving & (ph == _CRUISE)
        ended = cru & (self.phase_left_s <= 0.0)
        dwell_over = driving & (ph == _DWELL) & (self.phase_left_s <= 0.0)
        n_r, n_s, n_d = int(reached.sum()), int(stopped.sum()), int(dwell_over.sum())
        if n_r:
            ph[reached] = _CRUISE
            self.phase_left_s[reached] = rng.uniform(5.0, 60.0, n_r)
        if ended.any():
            ph[ended] = _BRAKE
        if n_s:
            ph[stopped] = _DWELL
            self.phase_left_s[stopped] = rng.uniform(8.0, 45.0, n_s)
        if n_d:
            ph[dwell_over] = _ACCEL
            self.target_ms[dwell_over] = rng.uniform(15.0, 45.0, n_d) / 3.6
        v[~driving] = 0.0
        self.speed_ms = v
        mean_v = 0.5 * (v0 + v)
        self.odometer_km += mean_v * dt / 1000.0
        self.trip_km += mean_v * dt / 1000.0
        return mean_v, (v - v0) / dt

    def powered(self) -> B8:
        """Buses whose contactors are closed (everything but parked)."""
        out: B8 = self.mode != PARKED
        return out

    def charging(self) -> B8:
        """Buses connected to a charger this second."""
        out: B8 = (self.mode == DEPOT_CHARGE) | (self.mode == OPP_CHARGE)
        return out

    def charger_kw(self) -> F64:
        """Charger power available to each bus (0 when not charging)."""
        out: F64 = np.where(
            self.mode == DEPOT_CHARGE,
            self.tt.depot_charger_kw,
            np.where(self.mode == OPP_CHARGE, self.tt.opp_charger_kw, 0.0),
        )
        return out


def traction_power(
    vp: VehicleParams, mass_kg: F64, v_ms: F64, a_ms2: F64, ambient_c: F64, powered: B8
) -> F64:
    """Pack power demand in W (positive = discharge) for the given motion.

    Road load ``m a + m g Crr + ½ ρ CdA v²``; the drive train's losses on
    traction, a regeneration efficiency and power cap (fading out below
    ~10 km/h, where motors cannot recover much), plus auxiliaries and an AC
    load that grows with ambient temperature. Unpowered buses draw nothing.
    """
    force = (
        mass_kg * a_ms2
        + mass_kg * _G * vp.crr * (v_ms > 0.05)
        + 0.5 * _RHO_AIR * vp.cda_m2 * v_ms**2
    )
    wheel = force * v_ms
    regen_cap = vp.regen_max_kw * 1000.0 * np.minimum(1.0, v_ms / 3.0)
    pack = np.where(
        wheel > 0, wheel / vp.drive_efficiency, np.maximum(wheel * vp.regen_efficiency, -regen_cap)
    )
    hvac = np.clip((ambient_c - 22.0) * vp.hvac_kw_per_k, 0.0, vp.hvac_max_kw) * 1000.0
    out: F64 = np.where(powered, pack + vp.aux_base_kw * 1000.0 + hvac, 0.0)
    return out


def route_position(lat0: F64, lon0: F64, trip_km: F64) -> tuple[F64, F64]:
    """A loop route of ~30 km around the depot: position after ``trip_km`` of the trip."""
    radius_deg = 0.04
    theta = 2 * math.pi * np.mod(trip_km, 30.0) / 30.0
    return lat0 + radius_deg * np.sin(theta), lon0 + radius_deg * (1 - np.cos(theta))


def coarse_kinetic_w(vp: VehicleParams, mass_kg: F64, v_mean: F64) -> F64:
    """Mean pack power of stop-and-go acceleration at mean speed ``v_mean`` (m/s).

    A stop every ~350 m, cruising at ~1.8x the mean speed; each start costs
    ½ m v² through the drive train and each stop gives back a share by regeneration.
    """
    stops_per_s = v_mean / 350.0
    kinetic = 0.5 * mass_kg * (1.8 * v_mean) ** 2 * stops_per_s
    out: F64 = kinetic / vp.drive_efficiency - 0.6 * kinetic * vp.regen_efficiency
    return out
