"""``PackSample`` v1: everything one bus reports about its traction pack in one second.

Units are in the field names (``_v``, ``_a``, ``_c``, ``_pct``, ``_kohm``,
``_kmh``, ``_km``, ``_deg``). Current follows COVESA VSS
(``Vehicle.Powertrain.TractionBattery.CurrentCurrent``): positive while the
pack is charging, negative while it discharges. ``ts`` is the bus's own clock;
``received_at`` is when the platform first saw the bundle.

The min/max/mean/index fields are derived from the two arrays;
:func:`with_cell_stats` fills them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Any, NamedTuple, get_type_hints

import msgspec

from schemas.common import (
    SCHEMA_VERSION_V1,
    ChargingState,
    ContactorState,
    HvilState,
    Timestamp,
)

_M = msgspec.Meta

OptFloat = float | None
OptInt = int | None


class PackSample(msgspec.Struct, kw_only=True, frozen=True):
    """One bus-second of traction-pack telemetry (Kafka topic telemetry.pack.v1)."""

    schema_version: Annotated[int, _M(description="Contract version; 1 for this type")] = (
        SCHEMA_VERSION_V1
    )
    vehicle_id: Annotated[str, _M(description="Fleet vehicle id; the Kafka key")]
    pack_id: Annotated[str | None, _M(description="Pack serial, if the bus reports it")] = None
    ts: Annotated[Timestamp, _M(description="Vehicle timestamp of this second (UTC)")]
    seq: Annotated[int, _M(description="Per-vehicle sequence number from the TCU, >= 0")]
    received_at: Annotated[
        Timestamp | None, _M(description="When the platform received the bundle (UTC)")
    ] = None

    pack_voltage_v: Annotated[float, _M(description="Pack voltage, V (VSS CurrentVoltage)")]
    pack_current_a: Annotated[
        float, _M(description="Pack current, A; positive = charging (VSS CurrentCurrent)")
    ]
    soc_pct: Annotated[float, _M(description="State of charge, % (VSS StateOfCharge.Current)")]
    soh_pct: Annotated[OptFloat, _M(description="BMS-reported state of health, %")] = None

    cell_voltages: Annotated[
        list[float], _M(description="Voltage of each series cell group, V, in pack order")
    ]
    cell_temps: Annotated[
        list[float], _M(description="Reading of each temperature sensor, degC, in pack order")
    ]

    cell_voltage_min_v: Annotated[OptFloat, _M(description="Lowest cell voltage, V")] = None
    cell_voltage_max_v: Annotated[OptFloat, _M(description="Highest cell voltage, V")] = None
    cell_voltage_mean_v: Annotated[OptFloat, _M(description="Mean cell voltage, V")] = None
    cell_voltage_min_idx: Annotated[OptInt, _M(description="Index of the lowest cell")] = None
    cell_voltage_max_idx: Annotated[OptInt, _M(description="Index of the highest cell")] = None
    cell_temp_min_c: Annotated[OptFloat, _M(description="Lowest sensor temperature, degC")] = None
    cell_temp_max_c: Annotated[OptFloat, _M(description="Highest sensor temperature, degC")] = None
    cell_temp_mean_c: Annotated[OptFloat, _M(description="Mean sensor temperature, degC")] = None
    cell_temp_min_idx: Annotated[OptInt, _M(description="Index of the coldest sensor")] = None
    cell_temp_max_idx: Annotated[OptInt, _M(description="Index of the hottest sensor")] = None

    coolant_inlet_c: Annotated[OptFloat, _M(description="Coolant inlet temperature, degC")] = None
    coolant_outlet_c: Annotated[OptFloat, _M(description="Coolant outlet temperature, degC")] = None
    ambient_c: Annotated[OptFloat, _M(description="Ambient air temperature, degC")] = None
    insulation_kohm: Annotated[
        OptFloat, _M(description="Insulation resistance HV to chassis, kOhm")
    ] = None

    contactor_state: Annotated[ContactorState | None, _M(description="Main contactor state")] = None
    hvil_state: Annotated[HvilState | None, _M(description="High-voltage interlock state")] = None
    charging_state: Annotated[ChargingState | None, _M(description="Charging state")] = None
    fault_codes: Annotated[
        list[int], _M(description="Active BMS fault codes (J1939 DTC as uint32); empty = none")
    ] = []

    speed_kmh: Annotated[OptFloat, _M(description="Vehicle speed, km/h (VSS Vehicle.Speed)")] = None
    odometer_km: Annotated[OptFloat, _M(description="Odometer, km")] = None
    latitude_deg: Annotated[OptFloat, _M(description="WGS 84 latitude, degrees")] = None
    longitude_deg: Annotated[OptFloat, _M(description="WGS 84 longitude, degrees")] = None


class ArrayStats(NamedTuple):
    """Summary of one sensor array; indices point at the first extreme value."""

    min: float
    max: float
    mean: float
    argmin: int
    argmax: int


def array_stats(values: Sequence[float]) -> ArrayStats | None:
    """Return min, max, mean and the first index of min and max of ``values``.

    Returns ``None`` for an empty sequence. The values must be finite (validate
    first): with NaN present the result is meaningless.
    """
    if not values:
        return None
    lo = min(values)
    hi = max(values)
    # Floating-point summation can put the mean of equal values one ulp
    # outside [min, max]; clamp so that min <= mean <= max always holds.
    mean = min(max(sum(values) / len(values), lo), hi)
    return ArrayStats(lo, hi, mean, values.index(lo), values.index(hi))


def with_cell_stats(sample: PackSample) -> PackSample:
    """Return a copy of ``sample`` with the derived min/max/mean/index fields set.

    The fields are computed from ``cell_voltages`` and ``cell_temps``; for an
    empty array the matching fields become ``None``. The input is not changed.
    """
    v = array_stats(sample.cell_voltages)
    t = array_stats(sample.cell_temps)
    return msgspec.structs.replace(
        sample,
        cell_voltage_min_v=v.min if v else None,
        cell_voltage_max_v=v.max if v else None,
        cell_voltage_mean_v=v.mean if v else None,
        cell_voltage_min_idx=v.argmin if v else None,
        cell_voltage_max_idx=v.argmax if v else None,
        cell_temp_min_c=t.min if t else None,
        cell_temp_max_c=t.max if t else None,
        cell_temp_mean_c=t.mean if t else None,
        cell_temp_min_idx=t.argmin if t else None,
        cell_temp_max_idx=t.argmax if t else None,
    )


def wire_struct(name: str, *, only: Collection[str]) -> type[msgspec.Struct]:
    """A decode-only twin of :class:`PackSample`: the fields in ``only`` and the ones
    the contract requires, each with the contract's own type and default; the
    others are skipped unread."""
    hints = get_type_hints(PackSample, include_extras=True)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(PackSample):
        if f.name not in only and not f.required:
            continue
        kind = hints[f.name]
        fields.append((f.name, kind) if f.required else (f.name, kind, f.default))
    return msgspec.defstruct(name, fields, kw_only=True, gc=False)
