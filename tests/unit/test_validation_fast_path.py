"""The msgspec fast path never accepts what the plain-Python rules refuse."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.errors import RejectReason, SampleRejected
from schemas.examples import EXAMPLE_LIMITS, EXAMPLE_TS, example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import PackSample
from schemas.sample_checks import check_consistency, check_identity, check_sample, check_time
from schemas.sample_probe import surely_valid
from schemas.validation import DEFAULT_MAX_FUTURE, DEFAULT_MAX_PAST, validate_pack_sample

NOW = EXAMPLE_TS + timedelta(seconds=2)
D = EXAMPLE_LIMITS


def _edges(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Values at, just beyond and between the ends of a range, and non-finite ones."""
    special = [
        lo,
        hi,
        math.nextafter(lo, -math.inf),
        math.nextafter(hi, math.inf),
        (lo + hi) / 2,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
    ]
    return st.sampled_from(special) | st.floats()


def _index(n: int) -> st.SearchStrategy[int | None]:
    return st.sampled_from([None, -1, 0, n - 1, n, 2**70])


V = _edges(D.cell_voltage_min_v, D.cell_voltage_max_v)
T = _edges(D.temp_min_c, D.temp_max_c)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "pack_voltage_v": _edges(D.pack_voltage_min_v, D.pack_voltage_ceiling_v),
    "pack_current_a": _edges(-D.current_max_abs_a, D.current_max_abs_a),
    "soc_pct": _edges(0.0, 100.0),
    "soh_pct": st.none() | _edges(D.soh_min_pct, D.soh_max_pct),
    "cell_voltage_min_v": st.none() | V,
    "cell_voltage_max_v": st.none() | V,
    "cell_voltage_mean_v": st.none() | V,
    "cell_temp_min_c": st.none() | T,
    "cell_temp_max_c": st.none() | T,
    "cell_temp_mean_c": st.none() | T,
    "coolant_inlet_c": st.none() | T,
    "coolant_outlet_c": st.none() | T,
    "ambient_c": st.none() | T,
    "insulation_kohm": st.none() | _edges(0.0, D.insulation_max_kohm),
    "speed_kmh": st.none() | _edges(D.speed_min_kmh, D.speed_max_kmh),
    "odometer_km": st.none() | _edges(0.0, D.odometer_max_km),
    "latitude_deg": st.none() | _edges(-90.0, 90.0),
    "longitude_deg": st.none() | _edges(-180.0, 180.0),
    "cell_voltage_min_idx": _index(D.cells_in_series),
    "cell_voltage_max_idx": _index(D.cells_in_series),
    "cell_temp_min_idx": _index(D.temp_sensors),
    "cell_temp_max_idx": _index(D.temp_sensors),
    "seq": st.sampled_from([-1, 0, 2**63 - 1, 2**63]),
    "fault_codes": st.lists(st.sampled_from([-1, 0, 7, 2**32 - 1, 2**32]), max_size=3)
    | st.just(list(range(D.max_fault_codes + 1))),
}


@st.composite
def perturbed_samples(draw: st.DrawFn) -> PackSample:
    """The valid example with one to four fields or array elements changed."""
    sample = example_pack_sample()
    changes: dict[str, Any] = {}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        target = draw(st.sampled_from([*SCALARS, "cell_voltages", "cell_temps"]))
        if target in SCALARS:
            changes[target] = draw(SCALARS[target])
            continue
        values = list(changes.get(target, getattr(sample, target)))
        how = draw(st.sampled_from(["set", "append", "pop"]))
        if how == "set" and values:
            i = draw(st.integers(min_value=0, max_value=len(values) - 1))
            values[i] = draw(V if target == "cell_voltages" else T)
        elif how == "append":
            values.append(3.3 if target == "cell_voltages" else 25.0)
        elif values:
            values.pop()
        changes[target] = values
    return msgspec.structs.replace(sample, **changes)


def _reference(sample: PackSample, design: PackLimits) -> RejectReason | None:
    try:
        check_identity(sample)
        check_time(sample, NOW, DEFAULT_MAX_FUTURE, DEFAULT_MAX_PAST)
        check_sample(sample, design)
    except SampleRejected as exc:
        return exc.reason_code
    return None


def _consistency(sample: PackSample) -> RejectReason | None:
    try:
        check_consistency(sample)
    except SampleRejected as exc:
        return exc.reason_code
    return None


def _verdict(sample: PackSample, design: PackLimits) -> RejectReason | None:
    try:
        validate_pack_sample(sample, design=design, now=NOW)
    except SampleRejected as exc:
        return exc.reason_code
    return None


def test_a_valid_sample_takes_the_fast_path() -> None:
    assert surely_valid(example_pack_sample(), D)


@settings(max_examples=400)
@given(perturbed_samples())
@example(msgspec.structs.replace(example_pack_sample(), soc_pct=math.nan))
@example(msgspec.structs.replace(example_pack_sample(), cell_voltage_min_idx=192))
def test_fast_path_agrees_with_the_reference_rules(sample: PackSample) -> None:
    expected = _reference(sample, D)
    if surely_valid(sample, D):
        # What the probe passes can only fail the cross-field rules it leaves
        # to Python; anything else would let a bad sample through.
        assert expected == _consistency(sample)
    assert _verdict(sample, D) == expected


def test_probe_follows_each_design() -> None:
    small = PackLimits(cells_in_series=4, temp_sensors=2, cell_voltage_max_v=3.65)
    sample = msgspec.structs.replace(
        example_pack_sample(),
        cell_voltages=[3.3, 3.3, 3.3, 3.6],
        cell_temps=[20.0, 21.0],
        pack_voltage_v=13.5,
        cell_voltage_min_v=None,
        cell_voltage_max_v=None,
        cell_voltage_mean_v=None,
        cell_voltage_min_idx=None,
        cell_voltage_max_idx=None,
        cell_temp_min_idx=None,
        cell_temp_max_idx=None,
    )
    assert surely_valid(sample, small)
    assert not surely_valid(sample, D)  # 4 cells where 192 are designed
    too_high = msgspec.structs.replace(sample, cell_voltages=[3.3, 3.3, 3.3, 3.7])
    assert not surely_valid(too_high, small)
    assert _verdict(too_high, small) is RejectReason.CELL_VOLTAGE_OUT_OF_RANGE
