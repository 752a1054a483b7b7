"""A :class:`PackSample` (or a batch of them as columns) as ``pack_samples`` rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from schemas.pack_batch import SampleColumns
from schemas.pack_sample import PackSample, array_stats, with_cell_stats

#: Columns written by ingestion (``ingested_at`` takes the server's default).
COLUMNS: tuple[str, ...] = (
    "vehicle_id", "ts", "seq", "received_at", "pack_id", "pack_voltage_v", "pack_current_a",
    "soc_pct", "soh_pct", "cell_voltage_min_v", "cell_voltage_max_v", "cell_voltage_mean_v",
    "cell_voltage_min_idx", "cell_voltage_max_idx", "cell_temp_min_c", "cell_temp_max_c",
    "cell_temp_mean_c", "cell_temp_min_idx", "cell_temp_max_idx", "coolant_inlet_c",
    "coolant_outlet_c", "ambient_c", "insulation_kohm", "contactor_state", "hvil_state",
    "charging_state", "fault_codes", "speed_kmh", "odometer_km", "latitude_deg",
    "longitude_deg", "cell_voltages", "cell_temps",
)  # fmt: skip


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def to_record(s: PackSample) -> tuple[Any, ...]:
    """The row for ``s``; min/max/mean fields as sent (validated), computed when absent."""
    if (s.cell_voltage_min_v is None and s.cell_voltages) or (
        s.cell_temp_min_c is None and s.cell_temps
    ):
        s = with_cell_stats(s)
    return (
        s.vehicle_id, s.ts, s.seq, s.received_at, s.pack_id, s.pack_voltage_v,
        s.pack_current_a, s.soc_pct, s.soh_pct, s.cell_voltage_min_v, s.cell_voltage_max_v,
        s.cell_voltage_mean_v, s.cell_voltage_min_idx, s.cell_voltage_max_idx,
        s.cell_temp_min_c, s.cell_temp_max_c, s.cell_temp_mean_c, s.cell_temp_min_idx,
        s.cell_temp_max_idx, s.coolant_inlet_c, s.coolant_outlet_c, s.ambient_c,
        s.insulation_kohm, _int(s.contactor_state), _int(s.hvil_state),
        _int(s.charging_state), s.fault_codes or None, s.speed_kmh, s.odometer_km,
        s.latitude_deg, s.longitude_deg, s.cell_voltages, s.cell_temps,
    )  # fmt: skip


_STATS = (
    ("cell_voltages", "cell_voltage_min_v", "cell_voltage_max_v", "cell_voltage_mean_v",
     "cell_voltage_min_idx", "cell_voltage_max_idx"),
    ("cell_temps", "cell_temp_min_c", "cell_temp_max_c", "cell_temp_mean_c",
     "cell_temp_min_idx", "cell_temp_max_idx"),
)  # fmt: skip


def as_stored(cols: SampleColumns) -> SampleColumns:
    """``cols`` as :func:`to_record` would store them, changed in place and returned.

    Min/max/mean fields as sent (validated), computed when absent, exactly as
    :func:`schemas.pack_sample.with_cell_stats` computes them; an empty
    fault-code list is stored as NULL.
    """
    f, ints, arrays = cols.floats, cols.ints, cols.arrays
    absent = np.zeros(len(cols), dtype=bool)
    for array, lo, *_ in _STATS:
        if arrays[array].shape[1]:
            absent |= np.isnan(f[lo])
    for i in np.flatnonzero(absent).tolist():
        for array, lo, hi, mean, lo_idx, hi_idx in _STATS:
            stats = array_stats(arrays[array][i].tolist())
            f[lo][i], f[hi][i], f[mean][i] = stats[:3] if stats else (np.nan,) * 3
            ints[lo_idx][i], ints[hi_idx][i] = stats[3:] if stats else (-1, -1)
    codes = cols.int_lists["fault_codes"]
    cols.int_lists["fault_codes"] = [c or None for c in codes]
    return cols
