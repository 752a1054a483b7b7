"""Reference implementation of every ``PackSample`` validation rule, in plain Python.

:func:`check_sample` applies the rules in their documented order and raises
:class:`SampleRejected` for the first one broken, naming the field and the
element. It is authoritative: the fast path in :mod:`schemas.sample_probe`
only decides that a sample certainly passes, and hands anything else to this
module for the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from schemas.errors import RejectReason, SampleRejected
from schemas.json_columns import FLOATS
from schemas.limits import FAULT_CODE_MAX, ID_MAX_LEN, SEQ_MAX, PackLimits
from schemas.messages import SUPPORTED_SCHEMA_VERSIONS
from schemas.pack_sample import PackSample

R = RejectReason


def _reject(reason: RejectReason, detail: str) -> SampleRejected:
    return SampleRejected(reason, detail)


def _aware(value: datetime | None) -> bool:
    return value is None or value.utcoffset() is not None


def check_identity(s: PackSample) -> None:
    """Schema version, vehicle and pack ids, sequence number; raises SampleRejected."""
    if s.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise _reject(R.UNSUPPORTED_SCHEMA_VERSION, f"schema_version {s.schema_version}")
    if not (0 < len(s.vehicle_id) <= ID_MAX_LEN) or s.vehicle_id.strip() != s.vehicle_id:
        raise _reject(R.INVALID_VEHICLE_ID, f"vehicle_id {s.vehicle_id[:80]!r}")
    if s.pack_id is not None and (
        not (0 < len(s.pack_id) <= ID_MAX_LEN) or s.pack_id.strip() != s.pack_id
    ):
        raise _reject(R.INVALID_PACK_ID, f"pack_id {s.pack_id[:80]!r}")
    if not 0 <= s.seq <= SEQ_MAX:
        raise _reject(R.SEQ_OUT_OF_RANGE, f"seq {s.seq}")


def check_time(s: PackSample, now: datetime, max_future: timedelta, max_past: timedelta) -> None:
    """Timestamps carry an offset and ``ts`` lies in the window around ``now``."""
    if not _aware(s.ts):
        raise _reject(R.NAIVE_TIMESTAMP, "ts has no UTC offset")
    if not _aware(s.received_at):
        raise _reject(R.NAIVE_TIMESTAMP, "received_at has no UTC offset")
    if s.ts > now + max_future:
        raise _reject(R.TS_IN_FUTURE, f"ts {s.ts.isoformat()} is > {max_future} after {now}")
    if s.ts < now - max_past:
        raise _reject(R.TS_TOO_OLD, f"ts {s.ts.isoformat()} is > {max_past} before {now}")


def _first_non_finite(values: Sequence[float]) -> int | None:
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i
    return None


def _check_finite(s: PackSample) -> None:
    for name in FLOATS:  # PackSample's scalar float fields, in its order
        v: float | None = getattr(s, name)
        if v is not None and not math.isfinite(v):
            raise _reject(R.NON_FINITE, f"{name} = {v}")
    for name, values in (("cell_voltages", s.cell_voltages), ("cell_temps", s.cell_temps)):
        # A finite sum proves every element finite; only an infinite or NaN
        # sum (or an overflow of huge finite values) needs the slow scan.
        total = sum(values)
        if not math.isfinite(total):
            i = _first_non_finite(values)
            if i is not None:
                raise _reject(R.NON_FINITE, f"{name}[{i}] = {values[i]}")


def _check_design(s: PackSample, design: PackLimits) -> None:
    if len(s.cell_voltages) != design.cells_in_series:
        raise _reject(
            R.CELL_COUNT_MISMATCH,
            f"{len(s.cell_voltages)} cell voltages, design has {design.cells_in_series}",
        )
    if len(s.cell_temps) != design.temp_sensors:
        raise _reject(
            R.SENSOR_COUNT_MISMATCH,
            f"{len(s.cell_temps)} temperatures, design has {design.temp_sensors} sensors",
        )


def _check_array(
    name: str, values: Sequence[float], lo: float, hi: float, reason: RejectReason
) -> None:
    if values and (min(values) < lo or max(values) > hi):
        i = next(i for i, v in enumerate(values) if not lo <= v <= hi)
        raise _reject(reason, f"{name}[{i}] = {values[i]} outside [{lo}, {hi}]")


def _check_scalar(
    name: str, value: float | None, lo: float, hi: float, reason: RejectReason
) -> None:
    if value is not None and not lo <= value <= hi:
        raise _reject(reason, f"{name} = {value} outside [{lo}, {hi}]")


def _check_ranges(s: PackSample, d: PackLimits) -> None:
    _check_scalar(
        "pack_voltage_v",
        s.pack_voltage_v,
        d.pack_voltage_min_v,
        d.pack_voltage_ceiling_v,
        R.PACK_VOLTAGE_OUT_OF_RANGE,
    )
    i_max = d.current_max_abs_a
    _check_scalar("pack_current_a", s.pack_current_a, -i_max, i_max, R.CURRENT_OUT_OF_RANGE)
    _check_scalar("soc_pct", s.soc_pct, d.soc_min_pct, d.soc_max_pct, R.SOC_OUT_OF_RANGE)
    _check_scalar("soh_pct", s.soh_pct, d.soh_min_pct, d.soh_max_pct, R.SOH_OUT_OF_RANGE)

    v_lo, v_hi = d.cell_voltage_min_v, d.cell_voltage_max_v
    _check_array("cell_voltages", s.cell_voltages, v_lo, v_hi, R.CELL_VOLTAGE_OUT_OF_RANGE)
    for name in ("cell_voltage_min_v", "cell_voltage_max_v", "cell_voltage_mean_v"):
        _check_scalar(name, getattr(s, name), v_lo, v_hi, R.CELL_VOLTAGE_OUT_OF_RANGE)

    t_lo, t_hi = d.temp_min_c, d.temp_max_c
    _check_array("cell_temps", s.cell_temps, t_lo, t_hi, R.TEMPERATURE_OUT_OF_RANGE)
    for name in (
        "cell_temp_min_c",
        "cell_temp_max_c",
        "cell_temp_mean_c",
        "coolant_inlet_c",
        "coolant_outlet_c",
        "ambient_c",
    ):
        _check_scalar(name, getattr(s, name), t_lo, t_hi, R.TEMPERATURE_OUT_OF_RANGE)

    _check_scalar(
        "insulation_kohm", s.insulation_kohm, 0.0, d.insulation_max_kohm, R.INSULATION_OUT_OF_RANGE
    )
    _check_scalar("speed_kmh", s.speed_kmh, d.speed_min_kmh, d.speed_max_kmh, R.SPEED_OUT_OF_RANGE)
    _check_scalar("odometer_km", s.odometer_km, 0.0, d.odometer_max_km, R.ODOMETER_OUT_OF_RANGE)
    _check_scalar("latitude_deg", s.latitude_deg, -90.0, 90.0, R.POSITION_OUT_OF_RANGE)
    _check_scalar("longitude_deg", s.longitude_deg, -180.0, 180.0, R.POSITION_OUT_OF_RANGE)


def _check_stats_group(
    name: str,
    n: int,
    lo: float | None,
    hi: float | None,
    mean: float | None,
    lo_idx: int | None,
    hi_idx: int | None,
) -> None:
    for idx_name, idx in (("min_idx", lo_idx), ("max_idx", hi_idx)):
        if idx is not None and not 0 <= idx < n:
            raise _reject(R.STATS_INCONSISTENT, f"{name}_{idx_name} {idx} not in [0, {n})")
    if lo is not None and hi is not None and lo > hi:
        raise _reject(R.STATS_INCONSISTENT, f"{name} min {lo} > max {hi}")
    if mean is not None and ((lo is not None and mean < lo) or (hi is not None and mean > hi)):
        raise _reject(R.STATS_INCONSISTENT, f"{name} mean {mean} outside [{lo}, {hi}]")


def check_consistency(s: PackSample) -> None:
    """Fields that must agree with each other do: summaries, position pair."""
    # The summary fields may come from the BMS's own min/max frames, sampled a
    # few milliseconds apart from the cell frames, so they need not equal the
    # array extremes exactly; they must not contradict themselves, though.
    _check_stats_group(
        "cell_voltage",
        len(s.cell_voltages),
        s.cell_voltage_min_v,
        s.cell_voltage_max_v,
        s.cell_voltage_mean_v,
        s.cell_voltage_min_idx,
        s.cell_voltage_max_idx,
    )
    _check_stats_group(
        "cell_temp",
        len(s.cell_temps),
        s.cell_temp_min_c,
        s.cell_temp_max_c,
        s.cell_temp_mean_c,
        s.cell_temp_min_idx,
        s.cell_temp_max_idx,
    )
    if (s.latitude_deg is None) != (s.longitude_deg is None):
        raise _reject(R.POSITION_OUT_OF_RANGE, "latitude and longitude must come together")


def _check_fault_codes(s: PackSample, d: PackLimits) -> None:
    codes = s.fault_codes
    if len(codes) > d.max_fault_codes:
        raise _reject(R.FAULT_CODES_INVALID, f"{len(codes)} fault codes > {d.max_fault_codes}")
    if codes and (min(codes) < 0 or max(codes) > FAULT_CODE_MAX):
        raise _reject(R.FAULT_CODES_INVALID, f"fault code outside [0, {FAULT_CODE_MAX}]")


def check_sample(s: PackSample, d: PackLimits) -> None:
    """Apply the value rules (finiteness, lengths, ranges, consistency, fault codes).

    Identity and time are checked separately (:func:`check_identity`,
    :func:`check_time`) because they do not depend on the pack design.
    Raises :class:`SampleRejected` for the first rule broken.
    """
    _check_finite(s)
    _check_design(s, d)
    _check_ranges(s, d)
    check_consistency(s)
    _check_fault_codes(s, d)
