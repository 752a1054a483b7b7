"""Faults with ground truth: the ``--faults`` SPEC language, and how each fault acts.

SPEC syntax (whitespace ignored)::

    SPEC   := FAULT ("," FAULT)*
    FAULT  := KIND [":" TARGET] (":" KEY "=" VALUE)*
    KIND   := cooling_failure | self_heating_cell | connection_hot_spot
            | sensor_fault | insulation_fault | weak_cell | random
    TARGET := (VEHICLE_ID | "random") ["@" WHEN] ["+" LENGTH]
    WHEN, LENGTH := a duration: 90s, 15m, 2h, 1.5d, or plain seconds; WHEN may be "random"

Keys: ``severity`` (0..1, default random in [0.1, 1]), ``mode``
(cooling_failure: ``pump`` | ``fan``; sensor_fault: ``stuck`` | ``drift`` |
``dropout``; default random), ``cell`` / ``sensor`` (zero-based index, default
random), ``count`` (repeat the fault on that many random targets). Without a
TARGET the bus is random; without ``@`` the start is random within the run
(weak cells start at 0: they come from the factory); without ``+`` the fault
lasts to the end. ``random:count=5`` draws five faults of random kinds.

Example: ``cooling_failure:BUS-0003@2h:severity=0.8,self_heating_cell:random``.

Severity maps from barely noticeable (0) to severe (1), see :data:`SEVERITY_DOC`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas.common import AnomalyKind

KINDS: dict[str, tuple[str, ...]] = {
    AnomalyKind.COOLING_FAILURE.value: ("pump", "fan"),
    AnomalyKind.SELF_HEATING_CELL.value: ("internal_short",),
    AnomalyKind.CONNECTION_HOT_SPOT.value: ("loose_busbar",),
    AnomalyKind.SENSOR_FAULT.value: ("stuck", "drift", "dropout"),
    AnomalyKind.INSULATION_FAULT.value: ("falling",),
    AnomalyKind.WEAK_CELL.value: ("low_capacity",),
}

#: What severity 0 and 1 mean for each kind (log-interpolated in between where marked).
SEVERITY_DOC: dict[str, str] = {
    "cooling_failure/pump": "coolant flow x (1 - 0.95 s)",
    "cooling_failure/fan": "chiller and radiator capacity x (1 - s)",
    "self_heating_cell": "internal short of 5 ohm (s=0, a few watts) .. 0.05 ohm "
    "(s=1, past 55 degC within the hour), log scale",
    "connection_hot_spot": "extra connection resistance 0.05 mOhm .. 1 mOhm, log scale",
    "sensor_fault/stuck": "reading follows the true change with gain 1 - s (s=1: frozen)",
    "sensor_fault/drift": "offset grows 0.05 .. 5 degC per hour, log scale, sign random",
    "sensor_fault/dropout": "share of seconds reading -40 degC (open NTC): 0.02 .. 1",
    "insulation_fault": "resistance falls to 3000 .. 30 kOhm (log), time constant 6 h .. 36 min",
    "weak_cell": "capacity x (0.97 - 0.32 s)",
}

_DUR = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class FaultSpecError(ValueError):
    """A ``--faults`` SPEC that does not parse; the message says where."""


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``90s``, ``15m``, ``2h``, ``1.5d`` or plain seconds)."""
    m = _DUR.match(text.strip())
    if not m:
        raise FaultSpecError(f"not a duration: {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass(frozen=True)
class FaultSpec:
    """One parsed FAULT term; ``None`` fields are drawn at random when resolved."""

    kind: str  # a KINDS key or "random"
    vehicle_id: str | None = None
    start_s: float | None = None
    length_s: float | None = None
    severity: float | None = None
    mode: str | None = None
    cell: int | None = None
    sensor: int | None = None
    count: int = 1


@dataclass(frozen=True)
class Fault:
    """A concrete fault on one bus: the ground truth written to the labels."""

    kind: str
    mode: str
    vehicle_id: str
    start_s: float  # seconds after the simulation start
    end_s: float  # math.inf = until the end
    severity: float
    cell: int | None = None
    sensor: int | None = None
    sign: float = 1.0  # direction of a sensor drift
    extra: dict[str, Any] = field(default_factory=dict)


def parse_spec(spec: str) -> list[FaultSpec]:
    """Parse a SPEC string (module docstring); raises FaultSpecError on bad input."""
    out: list[FaultSpec] = []
    for term in (t.strip() for t in spec.replace(" ", "").split(",")):
        if not term:
            continue
        parts = term.split(":")
        kind = parts[0]
        if kind not in KINDS and kind != "random":
            raise FaultSpecError(f"unknown fault kind {kind!r} in {term!r}; know {sorted(KINDS)}")
        kw: dict[str, Any] = {"kind": kind}
        for part in parts[1:]:
            if "=" in part:
                key, _, val = part.partition("=")
                kw.update(_key_value(key, val, term))
            else:
                kw.update(_target(part, term))
        out.append(FaultSpec(**kw))
    return out


def _target(part: str, term: str) -> dict[str, Any]:
    m = re.match(r"^([^@+]*)(?:@([^+]+))?(?:\+(.+))?$", part)
    if not m:
        raise FaultSpecError(f"bad target {part!r} in {term!r}")
    kw: dict[str, Any] = {}
    if m.group(1) and m.group(1) != "random":
        kw["vehicle_id"] = m.group(1)
    if m.group(2) and m.group(2) != "random":
        kw["start_s"] = parse_duration(m.group(2))
    if m.group(3):
        kw["length_s"] = parse_duration(m.group(3))
    return kw


def _key_value(key: str, val: str, term: str) -> dict[str, Any]:
    try:
        if key == "severity":
            sev = float(val)
            if not 0.0 <= sev <= 1.0:
                raise FaultSpecError(f"severity {sev} outside 0..1 in {term!r}")
            return {"severity": sev}
        if key in ("cell", "sensor", "count"):
            return {key: int(val)}
        if key == "mode":
            return {"mode": val}
        if key in ("start", "at"):
            return {"start_s": parse_duration(val)}
        if key in ("for", "length"):
            return {"length_s": parse_duration(val)}
    except ValueError as exc:
        if isinstance(exc, FaultSpecError):
            raise
        raise FaultSpecError(f"bad value {val!r} for {key} in {term!r}") from exc
    raise FaultSpecError(f"unknown key {key!r} in {term!r}")


def resolve(
    specs: list[FaultSpec],
    vehicles: list[tuple[str, int, int]],
    duration_s: float,
    rng: np.random.Generator,
) -> list[Fault]:
    """Turn specs into concrete faults; ``vehicles`` are (id, series cells, sensors).

    Random choices come from ``rng`` only, so a seed reproduces the faults.
    Raises FaultSpecError for an unknown vehicle, mode, or out-of-range index.
    """
    by_id = {v[0]: v for v in vehicles}
    out: list[Fault] = []
    for s in specs:
        for _ in range(s.count):
            kind = s.kind if s.kind != "random" else str(rng.choice(sorted(KINDS)))
            if s.vehicle_id is not None and s.vehicle_id not in by_id:
                raise FaultSpecError(f"no bus {s.vehicle_id!r} in this fleet")
            vid, cells, sensors = (
                by_id[s.vehicle_id] if s.vehicle_id else vehicles[int(rng.integers(len(vehicles)))]
            )
            modes = KINDS[kind]
            mode = s.mode if s.mode is not None else str(rng.choice(modes))
            if mode not in modes:
                raise FaultSpecError(f"{kind} has modes {modes}, not {mode!r}")
            if s.start_s is not None:
                start = s.start_s
            elif kind == "weak_cell":
                start = 0.0
            else:
                start = float(rng.uniform(0.0, 0.6 * duration_s))
            end = start + s.length_s if s.length_s is not None else math.inf
            sev = s.severity if s.severity is not None else float(rng.uniform(0.1, 1.0))
            cell = sensor = None
            if kind in ("self_heating_cell", "connection_hot_spot", "weak_cell"):
                cell = s.cell if s.cell is not None else int(rng.integers(cells))
                if not 0 <= cell < cells:
                    raise FaultSpecError(f"cell {cell} outside 0..{cells - 1} on {vid}")
            if kind == "sensor_fault":
                sensor = s.sensor if s.sensor is not None else int(rng.integers(sensors))
                if not 0 <= sensor < sensors:
                    raise FaultSpecError(f"sensor {sensor} outside 0..{sensors - 1} on {vid}")
            sign = 1.0 if rng.random() < 0.5 else -1.0
            out.append(Fault(kind, mode, vid, start, end, sev, cell, sensor, sign))
    return out


def _log_interp(lo: float, hi: float, s: float) -> float:
    return float(lo * (hi / lo) ** s)


def short_ohm(sev: float) -> float:
    """Internal-short resistance for a severity.

    The issue's range, from a cell self-heating at a few watts (5 ohm: 2.2 W
    at LFP's 3.3 V, 2.7 W at NMC's 3.7 V) to a short that takes its cell past
    55 degC within the hour (0.05 ohm: 220-270 W; a cell on its plate passes
    the limit within the hour from ~105 W, 0.1 ohm, severity 0.85).
    """
    return _log_interp(5.0, 0.05, sev)


def connection_ohm(sev: float) -> float:
    """Extra connection resistance for a severity."""
    return _log_interp(0.05e-3, 1.0e-3, sev)


def drift_c_per_s(sev: float) -> float:
    """Sensor drift rate for a severity."""
    return _log_interp(0.05, 5.0, sev) / 3600.0


def dropout_share(sev: float) -> float:
    """Share of seconds a dropping-out sensor reads open-circuit."""
    return 0.02 + 0.98 * sev


def insulation_floor_kohm(sev: float) -> float:
    """Level the insulation resistance falls to."""
    return _log_interp(3000.0, 30.0, sev)


def weak_capacity_factor(sev: float) -> float:
    """Capacity of a weak cell relative to its healthy self."""
    return 0.97 - 0.32 * sev


def insulation_tau_s(sev: float) -> float:
    """Time constant of the insulation resistance's fall: severe faults are fast (water ingress)."""
    return 6 * 3600.0 * (1.0 - 0.9 * sev)
