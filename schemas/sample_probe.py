"""Fast path of ``PackSample`` validation: one msgspec conversion per sample.

For each :class:`PackLimits` a private Struct type is built whose fields carry
the limits as msgspec constraints (``ge``/``le``, lengths, index bounds).
Converting a sample into it with ``from_attributes=True`` checks finiteness
(NaN and infinities fail any finite bound), array lengths, every physical
range, the summary indices and the fault codes in C, about five times faster
than the same loops in Python.

:func:`surely_valid` answers True only when all those checks pass. False means
"look closer": the caller then runs :mod:`schemas.sample_checks`, which is
authoritative and names the broken rule.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import msgspec

from schemas.limits import FAULT_CODE_MAX, SEQ_MAX, PackLimits
from schemas.pack_sample import PackSample


def _between(lo: float, hi: float, *, optional: bool = True) -> Any:
    t = Annotated[float, msgspec.Meta(ge=lo, le=hi)]
    return t | None if optional else t


def _index(n: int) -> Any:
    # An index into an empty array can never be valid; lt=0 with ge=0 says so.
    return Annotated[int, msgspec.Meta(ge=0, lt=max(n, 0))] | None


@functools.lru_cache(maxsize=256)
def _probe_type(d: PackLimits) -> type[msgspec.Struct]:
    """The constrained Struct that mirrors the value rules for design ``d``."""
    n_cells, n_sensors = d.cells_in_series, d.temp_sensors
    volts = _between(d.cell_voltage_min_v, d.cell_voltage_max_v)
    temps = _between(d.temp_min_c, d.temp_max_c)
    cell_v = Annotated[float, msgspec.Meta(ge=d.cell_voltage_min_v, le=d.cell_voltage_max_v)]
    cell_t = Annotated[float, msgspec.Meta(ge=d.temp_min_c, le=d.temp_max_c)]
    code = Annotated[int, msgspec.Meta(ge=0, le=FAULT_CODE_MAX)]
    fields: list[tuple[str, Any]] = [
        ("seq", Annotated[int, msgspec.Meta(ge=0, le=SEQ_MAX)]),
        (
            "pack_voltage_v",
            _between(d.pack_voltage_min_v, d.pack_voltage_ceiling_v, optional=False),
        ),
        (
            "pack_current_a",
            _between(-d.current_max_abs_a, d.current_max_abs_a, optional=False),
        ),
        ("soc_pct", _between(d.soc_min_pct, d.soc_max_pct, optional=False)),
        ("soh_pct", _between(d.soh_min_pct, d.soh_max_pct)),
        (
            "cell_voltages",
            Annotated[list[cell_v], msgspec.Meta(min_length=n_cells, max_length=n_cells)],
        ),
        (
            "cell_temps",
            Annotated[list[cell_t], msgspec.Meta(min_length=n_sensors, max_length=n_sensors)],
        ),
        ("cell_voltage_min_v", volts),
        ("cell_voltage_max_v", volts),
        ("cell_voltage_mean_v", volts),
        ("cell_voltage_min_idx", _index(n_cells)),
        ("cell_voltage_max_idx", _index(n_cells)),
        ("cell_temp_min_c", temps),
        ("cell_temp_max_c", temps),
        ("cell_temp_mean_c", temps),
        ("cell_temp_min_idx", _index(n_sensors)),
        ("cell_temp_max_idx", _index(n_sensors)),
        ("coolant_inlet_c", temps),
        ("coolant_outlet_c", temps),
        ("ambient_c", temps),
        ("insulation_kohm", _between(0.0, d.insulation_max_kohm)),
        ("speed_kmh", _between(d.speed_min_kmh, d.speed_max_kmh)),
        ("odometer_km", _between(0.0, d.odometer_max_km)),
        ("latitude_deg", _between(-90.0, 90.0)),
        ("longitude_deg", _between(-180.0, 180.0)),
        ("fault_codes", Annotated[list[code], msgspec.Meta(max_length=d.max_fault_codes)]),
    ]
    return msgspec.defstruct("PackSampleProbe", fields, gc=False)


def surely_valid(sample: PackSample, design: PackLimits) -> bool:
    """True if ``sample`` passes every constraint the probe type encodes.

    False is not a verdict: the sample may still be valid (for example a bool
    where a float is expected, which the probe refuses and Python accepts).
    """
    try:
        msgspec.convert(sample, _probe_type(design), from_attributes=True)
    except msgspec.ValidationError:
        return False
    return True
