"""PackSample validation: every bad payload is refused with its own reason code."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from schemas.errors import RejectReason, SampleRejected
from schemas.examples import EXAMPLE_LIMITS, EXAMPLE_TS, example_anomaly_event, example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import PackSample, encode
from schemas.validation import decode_and_validate, validate_pack_sample

NOW = EXAMPLE_TS + timedelta(seconds=2)
R = RejectReason

Obj = dict[str, Any]


def _obj() -> Obj:
    obj: Obj = msgspec.to_builtins(example_pack_sample())
    return obj


def _edit(**changes: Any) -> bytes:
    """The example payload with some top-level fields replaced."""
    obj = _obj()
    obj.update(changes)
    return json.dumps(obj).encode()


def _with(fn: Callable[[Obj], object]) -> bytes:
    """The example payload after ``fn`` edited its dict in place."""
    obj = _obj()
    fn(obj)
    return json.dumps(obj).encode()


def _cell(i: int, value: float) -> bytes:
    return _with(lambda o: o["cell_voltages"].__setitem__(i, value))


def _temp(i: int, value: float) -> bytes:
    return _with(lambda o: o["cell_temps"].__setitem__(i, value))


def _drop(field: str) -> bytes:
    return _with(lambda o: o.pop(field))


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def test_the_example_passes() -> None:
    sample = example_pack_sample()
    validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)
    result = decode_and_validate(encode(sample), design=EXAMPLE_LIMITS, now=NOW)
    assert result == sample


BAD_PAYLOADS: list[tuple[str, bytes, RejectReason]] = [
    # decoding
    ("oversized", _edit(padding="x" * 70_000), R.OVERSIZED),
    ("truncated", encode(example_pack_sample())[:-40], R.UNDECODABLE),
    ("binary garbage", bytes(range(256)), R.UNDECODABLE),
    ("empty", b"", R.UNDECODABLE),
    ("bad utf-8", b'{"vehicle_id": "\xff\xfe"}', R.UNDECODABLE),
    ("json array", b"[1, 2, 3]", R.WRONG_SCHEMA),
    ("missing vehicle_id", _drop("vehicle_id"), R.WRONG_SCHEMA),
    ("missing cell_voltages", _drop("cell_voltages"), R.WRONG_SCHEMA),
    ("cell_voltages a string", _edit(cell_voltages="3.3,3.3"), R.WRONG_SCHEMA),
    ("seq a float", _edit(seq=12.5), R.WRONG_SCHEMA),
    ("unknown contactor state", _edit(contactor_state=9), R.WRONG_SCHEMA),
    ("null pack voltage", _edit(pack_voltage_v=None), R.WRONG_SCHEMA),
    ("an anomaly event", encode(example_anomaly_event()), R.WRONG_SCHEMA),
    ("schema_version 2", _edit(schema_version=2), R.UNSUPPORTED_SCHEMA_VERSION),
    (
        "v2 with new shape",
        _edit(schema_version=2, cell_temps={"t": 1}),
        R.UNSUPPORTED_SCHEMA_VERSION,
    ),
    ("schema_version 0", _edit(schema_version=0), R.UNSUPPORTED_SCHEMA_VERSION),
    ("naive ts", _edit(ts="2026-11-02T08:30:00"), R.NAIVE_TIMESTAMP),
    ("naive received_at", _edit(received_at="2026-11-02T08:30:01"), R.NAIVE_TIMESTAMP),
    # non-finite values as Python's json module writes them
    ("NaN cell voltage", _cell(17, float("nan")), R.NON_FINITE),
    ("Infinity current", _edit(pack_current_a=float("inf")), R.NON_FINITE),
    ("-Infinity temperature", _temp(3, float("-inf")), R.NON_FINITE),
    # identity and time
    ("empty vehicle_id", _edit(vehicle_id=""), R.INVALID_VEHICLE_ID),
    ("padded vehicle_id", _edit(vehicle_id=" bus-1"), R.INVALID_VEHICLE_ID),
    ("long pack_id", _edit(pack_id="P" * 65), R.INVALID_PACK_ID),
    ("negative seq", _edit(seq=-1), R.SEQ_OUT_OF_RANGE),
    ("seq beyond bigint", _edit(seq=2**63), R.SEQ_OUT_OF_RANGE),
    ("ts an hour ahead", _edit(ts=_iso(NOW + timedelta(hours=1))), R.TS_IN_FUTURE),
    ("ts 60 days old", _edit(ts=_iso(NOW - timedelta(days=60))), R.TS_TOO_OLD),
    # pack design
    ("191 cells", _with(lambda o: o["cell_voltages"].pop()), R.CELL_COUNT_MISMATCH),
    ("no cells", _edit(cell_voltages=[]), R.CELL_COUNT_MISMATCH),
    ("49 sensors", _with(lambda o: o["cell_temps"].append(25.0)), R.SENSOR_COUNT_MISMATCH),
    # physics
    ("cell at 5.2 V", _cell(100, 5.2), R.CELL_VOLTAGE_OUT_OF_RANGE),
    ("negative cell", _cell(0, -0.1), R.CELL_VOLTAGE_OUT_OF_RANGE),
    ("summary min cell -1 V", _edit(cell_voltage_min_v=-1.0), R.CELL_VOLTAGE_OUT_OF_RANGE),
    ("sensor at 130 C", _temp(47, 130.0), R.TEMPERATURE_OUT_OF_RANGE),
    ("sensor at -41 C", _temp(0, -41.0), R.TEMPERATURE_OUT_OF_RANGE),
    ("coolant at -45 C", _edit(coolant_inlet_c=-45.0), R.TEMPERATURE_OUT_OF_RANGE),
    ("ambient at 300 C", _edit(ambient_c=300.0), R.TEMPERATURE_OUT_OF_RANGE),
    ("SoC 100.5", _edit(soc_pct=100.5), R.SOC_OUT_OF_RANGE),
    ("SoC -1", _edit(soc_pct=-1.0), R.SOC_OUT_OF_RANGE),
    ("SoH 130", _edit(soh_pct=130.0), R.SOH_OUT_OF_RANGE),
    ("pack 1200 V", _edit(pack_voltage_v=1200.0), R.PACK_VOLTAGE_OUT_OF_RANGE),
    ("pack -50 V", _edit(pack_voltage_v=-50.0), R.PACK_VOLTAGE_OUT_OF_RANGE),
    ("2500 A charging", _edit(pack_current_a=2500.0), R.CURRENT_OUT_OF_RANGE),
    ("-2500 A discharging", _edit(pack_current_a=-2500.0), R.CURRENT_OUT_OF_RANGE),
    ("negative insulation", _edit(insulation_kohm=-1.0), R.INSULATION_OUT_OF_RANGE),
    ("speed 250 km/h", _edit(speed_kmh=250.0), R.SPEED_OUT_OF_RANGE),
    ("negative odometer", _edit(odometer_km=-5.0), R.ODOMETER_OUT_OF_RANGE),
    ("latitude 91", _edit(latitude_deg=91.0), R.POSITION_OUT_OF_RANGE),
    ("longitude -181", _edit(longitude_deg=-181.0), R.POSITION_OUT_OF_RANGE),
    ("latitude without longitude", _edit(longitude_deg=None), R.POSITION_OUT_OF_RANGE),
    # derived fields
    ("min index past the end", _edit(cell_voltage_min_idx=192), R.STATS_INCONSISTENT),
    ("negative max index", _edit(cell_temp_max_idx=-1), R.STATS_INCONSISTENT),
    ("min above max", _edit(cell_temp_min_c=40.0, cell_temp_max_c=30.0), R.STATS_INCONSISTENT),
    ("mean above max", _edit(cell_voltage_mean_v=3.9), R.STATS_INCONSISTENT),
    ("negative fault code", _edit(fault_codes=[5, -3]), R.FAULT_CODES_INVALID),
    ("fault code over 32 bits", _edit(fault_codes=[2**32]), R.FAULT_CODES_INVALID),
    ("300 fault codes", _edit(fault_codes=list(range(300))), R.FAULT_CODES_INVALID),
]


def test_the_table_is_large_and_covers_every_reason() -> None:
    assert len(BAD_PAYLOADS) >= 25
    covered = {reason for _, _, reason in BAD_PAYLOADS} | {R.UNKNOWN_PACK_DESIGN}
    assert covered == set(RejectReason)  # unknown_pack_design has its own test below


@pytest.mark.parametrize(
    ("payload", "reason"),
    [pytest.param(payload, reason, id=name) for name, payload, reason in BAD_PAYLOADS],
)
def test_bad_payload_is_rejected_with_its_reason(payload: bytes, reason: RejectReason) -> None:
    result = decode_and_validate(payload, design=EXAMPLE_LIMITS, now=NOW)
    assert isinstance(result, SampleRejected)
    assert result.reason_code is reason, result.detail
    assert result.detail


def test_limits_are_inclusive() -> None:
    sample = msgspec.structs.replace(
        example_pack_sample(),
        cell_voltages=[0.0] + [3.3] * 190 + [5.0],
        cell_temps=[-40.0] + [25.0] * 46 + [125.0],
        soc_pct=100.0,
        pack_current_a=-2000.0,
        latitude_deg=-90.0,
        longitude_deg=180.0,
        ts=NOW + timedelta(minutes=5),
    )
    validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)


def test_first_broken_rule_wins() -> None:
    sample = msgspec.structs.replace(
        example_pack_sample(),
        cell_temps=[float("nan")] * 47,  # non-finite and the wrong length
        soc_pct=250.0,
    )
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)
    assert info.value.reason_code is R.NON_FINITE
    assert "cell_temps[0]" in info.value.detail


def test_detail_names_the_offending_element() -> None:
    sample = msgspec.structs.replace(
        example_pack_sample(), cell_voltages=[3.3] * 150 + [7.0] + [3.3] * 41
    )
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)
    assert info.value.reason_code is R.CELL_VOLTAGE_OUT_OF_RANGE
    assert "cell_voltages[150] = 7.0" in info.value.detail


def test_design_ranges_narrow_the_physical_ones() -> None:
    lfp = PackLimits(cells_in_series=192, temp_sensors=48, cell_voltage_max_v=3.65)
    sample = msgspec.structs.replace(
        example_pack_sample(), cell_voltages=[3.3] * 191 + [3.7], cell_voltage_max_v=3.7
    )
    validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(sample, design=lfp, now=NOW)
    assert info.value.reason_code is R.CELL_VOLTAGE_OUT_OF_RANGE


def test_time_window_is_configurable() -> None:
    sample = msgspec.structs.replace(example_pack_sample(), ts=NOW - timedelta(hours=2))
    validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW, max_past=timedelta(hours=3))
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW, max_past=timedelta(hours=1))
    assert info.value.reason_code is R.TS_TOO_OLD
    late = msgspec.structs.replace(sample, ts=NOW + timedelta(seconds=30))
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(late, design=EXAMPLE_LIMITS, now=NOW, max_future=timedelta(0))
    assert info.value.reason_code is R.TS_IN_FUTURE


def test_two_days_late_is_accepted_by_default() -> None:
    sample = msgspec.structs.replace(example_pack_sample(), ts=NOW - timedelta(days=2))
    validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)


def test_naive_datetimes_from_python_are_rejected() -> None:
    naive = datetime(2026, 11, 2, 8, 30)  # noqa: DTZ001 - the point of the test
    sample = msgspec.structs.replace(example_pack_sample(), ts=naive)
    with pytest.raises(SampleRejected) as info:
        validate_pack_sample(sample, design=EXAMPLE_LIMITS, now=NOW)
    assert info.value.reason_code is R.NAIVE_TIMESTAMP
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_pack_sample(example_pack_sample(), design=EXAMPLE_LIMITS, now=naive)


def test_oversize_limit_is_configurable() -> None:
    data = encode(example_pack_sample())
    assert isinstance(decode_and_validate(data, design=EXAMPLE_LIMITS, now=NOW), PackSample)
    result = decode_and_validate(data, design=EXAMPLE_LIMITS, now=NOW, max_bytes=len(data) - 1)
    assert isinstance(result, SampleRejected)
    assert result.reason_code is R.OVERSIZED


def test_design_lookup_is_called_with_the_sample() -> None:
    seen: list[str] = []

    def lookup(sample: PackSample) -> PackLimits | None:
        seen.append(sample.vehicle_id)
        return EXAMPLE_LIMITS if sample.vehicle_id == "bus-0042" else None

    ok = decode_and_validate(encode(example_pack_sample()), design=lookup, now=NOW)
    assert isinstance(ok, PackSample)
    unknown = decode_and_validate(_edit(vehicle_id="bus-9999"), design=lookup, now=NOW)
    assert isinstance(unknown, SampleRejected)
    assert unknown.reason_code is R.UNKNOWN_PACK_DESIGN
    assert seen == ["bus-0042", "bus-9999"]


def test_design_lookup_failure_propagates() -> None:
    class RegistryDown(Exception):
        pass

    def lookup(sample: PackSample) -> PackLimits | None:
        raise RegistryDown

    with pytest.raises(RegistryDown):
        decode_and_validate(encode(example_pack_sample()), design=lookup, now=NOW)


def test_garbage_that_only_resembles_nan_stays_undecodable() -> None:
    result = decode_and_validate(b'{"soc_pct": NaN', design=EXAMPLE_LIMITS, now=NOW)
    assert isinstance(result, SampleRejected)
    assert result.reason_code is R.UNDECODABLE


def test_nan_in_a_non_float_field_is_still_non_finite() -> None:
    result = decode_and_validate(_edit(seq=float("nan")), design=EXAMPLE_LIMITS, now=NOW)
    assert isinstance(result, SampleRejected)
    assert result.reason_code is R.NON_FINITE
    assert "seq" in result.detail


def test_pack_limits_defaults_and_sanity() -> None:
    limits = PackLimits(cells_in_series=200, temp_sensors=40)
    assert limits.pack_voltage_ceiling_v == 1000.0
    assert PackLimits(cells_in_series=1, temp_sensors=0).temp_sensors == 0
    with pytest.raises(ValueError):
        PackLimits(cells_in_series=0, temp_sensors=4)
    with pytest.raises(ValueError):
        PackLimits(cells_in_series=10, temp_sensors=4, temp_min_c=50.0, temp_max_c=40.0)
    with pytest.raises(ValueError):
        PackLimits(cells_in_series=10, temp_sensors=4, current_max_abs_a=float("inf"))


def test_validation_works_for_any_timezone_of_now() -> None:
    from datetime import timezone

    ist = timezone(timedelta(hours=5, minutes=30))
    validate_pack_sample(example_pack_sample(), design=EXAMPLE_LIMITS, now=NOW.astimezone(ist))
    assert NOW.astimezone(ist) == NOW.astimezone(UTC)
