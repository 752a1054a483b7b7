"""Message contracts: lossless JSON round trips, v1 compatibility, typed decode errors."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import examples
from schemas.errors import (
    MessageRejected,
    NaiveTimestamp,
    RejectReason,
    SampleRejected,
    UndecodableMessage,
    UnsupportedSchemaVersion,
    WrongSchema,
)
from schemas.messages import (
    MESSAGE_TYPES,
    AlertEvent,
    AlertState,
    AnomalyEvent,
    AnomalyKind,
    ChargingState,
    ConditionState,
    ContactorState,
    HealthScore,
    HvilState,
    Message,
    PackSample,
    Severity,
    array_stats,
    decode,
    decode_alert_event,
    decode_anomaly_event,
    decode_health_score,
    decode_pack_sample,
    encode,
    with_cell_stats,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json" / "examples"

# --- strategies -------------------------------------------------------------

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
OPT_FINITE = st.none() | FINITE
IDS = st.text(min_size=1, max_size=40)

# RFC 3339 offsets have minute resolution; msgspec writes UTC as "Z".
OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)
AWARE = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - bounds for hypothesis, tz added below
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC) | OFFSETS,
)
EVIDENCE = st.dictionaries(
    st.text(max_size=20),
    st.none()
    | st.booleans()
    | INT64
    | FINITE
    | st.text(max_size=20)
    | st.lists(FINITE, max_size=5),
    max_size=6,
)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


pack_samples = st.builds(
    PackSample,
    vehicle_id=IDS,
    pack_id=_opt(IDS),
    ts=AWARE,
    seq=INT64,
    received_at=_opt(AWARE),
    pack_voltage_v=FINITE,
    pack_current_a=FINITE,
    soc_pct=FINITE,
    soh_pct=OPT_FINITE,
    cell_voltages=st.lists(FINITE, max_size=240),
    cell_temps=st.lists(FINITE, max_size=64),
    cell_voltage_min_v=OPT_FINITE,
    cell_voltage_max_v=OPT_FINITE,
    cell_voltage_mean_v=OPT_FINITE,
    cell_voltage_min_idx=_opt(INT64),
    cell_voltage_max_idx=_opt(INT64),
    cell_temp_min_c=OPT_FINITE,
    cell_temp_max_c=OPT_FINITE,
    cell_temp_mean_c=OPT_FINITE,
    cell_temp_min_idx=_opt(INT64),
    cell_temp_max_idx=_opt(INT64),
    coolant_inlet_c=OPT_FINITE,
    coolant_outlet_c=OPT_FINITE,
    ambient_c=OPT_FINITE,
    insulation_kohm=OPT_FINITE,
    contactor_state=_opt(st.sampled_from(ContactorState)),
    hvil_state=_opt(st.sampled_from(HvilState)),
    charging_state=_opt(st.sampled_from(ChargingState)),
    fault_codes=st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=8),
    speed_kmh=OPT_FINITE,
    odometer_km=OPT_FINITE,
    latitude_deg=OPT_FINITE,
    longitude_deg=OPT_FINITE,
)

anomaly_events = st.builds(
    AnomalyEvent,
    event_id=IDS,
    vehicle_id=IDS,
    pack_id=_opt(IDS),
    ts=AWARE,
    detected_at=AWARE,
    kind=st.sampled_from(AnomalyKind),
    severity=st.sampled_from(Severity),
    state=st.sampled_from(ConditionState),
    cell_index=_opt(INT64),
    sensor_index=_opt(INT64),
    score=FINITE,
    evidence=EVIDENCE,
    model_version=IDS,
    raised=st.booleans(),
)

alert_events = st.builds(
    AlertEvent,
    alert_id=IDS,
    idempotency_key=IDS,
    vehicle_id=IDS,
    pack_id=_opt(IDS),
    depot_id=_opt(IDS),
    kind=st.sampled_from(AnomalyKind),
    severity=st.sampled_from(Severity),
    state=st.sampled_from(AlertState),
    previous_state=_opt(st.sampled_from(AlertState)),
    changed_at=AWARE,
    actor=IDS,
    comment=_opt(st.text(max_size=200)),
    cell_index=_opt(INT64),
    sensor_index=_opt(INT64),
    evidence=EVIDENCE,
)

health_scores = st.builds(
    HealthScore,
    vehicle_id=IDS,
    pack_id=_opt(IDS),
    ts=AWARE,
    soh_pct=FINITE,
    soh_low_pct=FINITE,
    soh_high_pct=FINITE,
    capacity_ah=OPT_FINITE,
    resistance_growth_pct=OPT_FINITE,
    weak_cell_indices=st.lists(st.integers(min_value=0, max_value=239), max_size=10),
    model_version=IDS,
)

any_message: st.SearchStrategy[Message] = st.one_of(
    pack_samples, anomaly_events, alert_events, health_scores
)


def _offsets(msg: Message) -> list[timedelta | None]:
    """UTC offsets of every datetime field: equality alone ignores them."""
    return [
        v.utcoffset()
        for v in msgspec.structs.astuple(msg)
        if isinstance(v, datetime)  # every datetime in these types is top level
    ]


# --- round trips --------------------------------------------------------------


@given(pack_samples)
def test_pack_sample_round_trip_is_lossless(sample: PackSample) -> None:
    data = encode(sample)
    back = decode_pack_sample(data)
    assert back == sample
    assert _offsets(back) == _offsets(sample)
    assert encode(back) == data


@given(anomaly_events)
def test_anomaly_event_round_trip_is_lossless(event: AnomalyEvent) -> None:
    data = encode(event)
    back = decode_anomaly_event(data)
    assert back == event
    assert _offsets(back) == _offsets(event)
    assert encode(back) == data


@given(alert_events)
def test_alert_event_round_trip_is_lossless(event: AlertEvent) -> None:
    data = encode(event)
    back = decode_alert_event(data)
    assert back == event
    assert _offsets(back) == _offsets(event)
    assert encode(back) == data


@given(health_scores)
def test_health_score_round_trip_is_lossless(score: HealthScore) -> None:
    data = encode(score)
    back = decode_health_score(data)
    assert back == score
    assert encode(back) == data


def test_round_trip_keeps_float_bits_and_enum_types() -> None:
    sample = msgspec.structs.replace(
        examples.example_pack_sample(),
        pack_current_a=-0.0,
        soc_pct=0.1 + 0.2,  # 0.30000000000000004 must not become 0.3
        cell_voltages=[5e-324, 3.2999999999999994],
    )
    back = decode_pack_sample(encode(sample))
    assert str(back.pack_current_a) == "-0.0"
    assert back.soc_pct == 0.1 + 0.2
    assert back.cell_voltages == [5e-324, 3.2999999999999994]
    assert type(back.contactor_state) is ContactorState
    assert back.contactor_state is ContactorState.CLOSED


# --- compatibility ------------------------------------------------------------


@given(any_message, st.dictionaries(st.text(min_size=1, max_size=10), st.integers(), max_size=4))
def test_unknown_fields_are_ignored(msg: Message, extra: dict[str, int]) -> None:
    obj = msgspec.to_builtins(msg)
    # The prefix keeps the extras clear of every field the types define.
    obj.update({f"x_future_{k}": v for k, v in extra.items()})
    back = decode(json.dumps(obj).encode(), type(msg))
    assert back == msg


def test_v1_payload_with_unknown_extra_fields_still_reads() -> None:
    raw = (EXAMPLES_DIR / "pack_sample.v1.json").read_bytes()
    obj = json.loads(raw)
    obj["pack_power_kw"] = -115.3  # a field a later producer might add
    obj["tcu"] = {"firmware": "4.2.1", "modem": ["lte", 2]}
    sample = decode_pack_sample(json.dumps(obj).encode())
    assert sample == decode_pack_sample(raw)
    assert not hasattr(sample, "pack_power_kw")


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_checked_in_v1_examples_still_decode(name: str) -> None:
    raw = (EXAMPLES_DIR / f"{name}.v1.json").read_bytes()
    msg = decode(raw, MESSAGE_TYPES[name])
    assert msg.schema_version == 1
    assert msg.vehicle_id == "bus-0042"
    assert decode(encode(msg), MESSAGE_TYPES[name]) == msg


def test_v1_example_keeps_its_meaning() -> None:
    sample = decode_pack_sample((EXAMPLES_DIR / "pack_sample.v1.json").read_bytes())
    assert sample.ts == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    assert sample.pack_current_a == -182.5  # discharging: VSS sign, negative out of the pack
    assert len(sample.cell_voltages) == 192
    assert len(sample.cell_temps) == 48
    assert sample.contactor_state is ContactorState.CLOSED


def test_missing_optional_fields_take_defaults() -> None:
    minimal = {
        "vehicle_id": "bus-1",
        "ts": "2026-11-02T08:30:00Z",
        "seq": 7,
        "pack_voltage_v": 640.0,
        "pack_current_a": 12.5,
        "soc_pct": 55.0,
        "cell_voltages": [3.3, 3.31],
        "cell_temps": [21.0],
    }
    sample = decode_pack_sample(json.dumps(minimal).encode())
    assert sample.schema_version == 1  # absent version means 1
    assert sample.pack_id is None
    assert sample.received_at is None
    assert sample.cell_voltage_min_v is None
    assert sample.contactor_state is None
    assert sample.fault_codes == []
    assert sample.latitude_deg is None


def test_events_minimal_payloads_take_defaults() -> None:
    event = decode_anomaly_event(
        b'{"event_id":"e1","vehicle_id":"b","ts":"2026-01-01T00:00:00Z",'
        b'"detected_at":"2026-01-01T00:00:01Z","kind":"sensor_fault","severity":"warning",'
        b'"score":0.5,"model_version":"rules-1"}'
    )
    assert event.state is ConditionState.ACTIVE
    assert event.evidence == {}
    assert event.cell_index is None


def test_default_lists_are_not_shared_between_messages() -> None:
    def score(vehicle_id: str) -> HealthScore:
        return HealthScore(
            vehicle_id=vehicle_id,
            ts=examples.EXAMPLE_TS,
            soh_pct=90,
            soh_low_pct=89,
            soh_high_pct=91,
            model_version="m",
        )

    a, b = score("a"), score("b")
    a.weak_cell_indices.append(3)
    assert b.weak_cell_indices == []


# --- decode errors ------------------------------------------------------------


def _example_obj() -> dict[str, Any]:
    obj: dict[str, Any] = msgspec.to_builtins(examples.example_pack_sample())
    return obj


def test_newer_schema_version_is_refused_by_type() -> None:
    obj = _example_obj()
    obj["schema_version"] = 2
    with pytest.raises(UnsupportedSchemaVersion) as info:
        decode_pack_sample(json.dumps(obj).encode())
    assert info.value.reason_code is RejectReason.UNSUPPORTED_SCHEMA_VERSION


def test_newer_version_with_changed_types_reports_version_not_shape() -> None:
    obj = _example_obj()
    obj["schema_version"] = 2
    obj["cell_voltages"] = {"encoding": "mV-delta", "data": "AAEC"}
    with pytest.raises(UnsupportedSchemaVersion):
        decode_pack_sample(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"vehicle_id": "b1", "ts": ', UndecodableMessage),
        (b"\x00\x01\x02", UndecodableMessage),
        (b"", UndecodableMessage),
        (b"[1, 2]", WrongSchema),
        (b'{"vehicle_id": 7}', WrongSchema),
    ],
)
def test_decode_errors_are_typed(payload: bytes, error: type[MessageRejected]) -> None:
    with pytest.raises(error):
        decode_pack_sample(payload)


def test_another_message_type_is_wrong_schema() -> None:
    with pytest.raises(WrongSchema) as info:
        decode_pack_sample(encode(examples.example_anomaly_event()))
    assert info.value.reason_code == "wrong_schema"
    assert "PackSample" in info.value.detail


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("pack_sample", "ts"),
        ("pack_sample", "received_at"),
        ("anomaly_event", "detected_at"),
        ("alert_event", "changed_at"),
        ("health_score", "ts"),
    ],
)
def test_naive_timestamps_are_refused(name: str, field: str) -> None:
    obj = json.loads((EXAMPLES_DIR / f"{name}.v1.json").read_bytes())
    obj[field] = "2026-11-02T08:30:00"
    with pytest.raises(NaiveTimestamp):
        decode(json.dumps(obj).encode(), MESSAGE_TYPES[name])


def test_nan_encodes_as_null_and_is_refused() -> None:
    sample = msgspec.structs.replace(examples.example_pack_sample(), soc_pct=float("nan"))
    data = encode(sample)
    assert b'"soc_pct":null' in data
    with pytest.raises(WrongSchema):
        decode_pack_sample(data)


def test_rejections_carry_a_known_code_and_survive_pickle() -> None:
    err = SampleRejected("soc_out_of_range", "soc_pct = 101")
    assert err.reason_code is RejectReason.SOC_OUT_OF_RANGE
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is SampleRejected
    assert (copy.reason_code, copy.detail) == (err.reason_code, err.detail)
    with pytest.raises(ValueError, match="not_a_reason"):
        SampleRejected("not_a_reason", "x")


def test_decode_error_subclasses_pickle_too() -> None:
    err = NaiveTimestamp("ts has no offset")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is NaiveTimestamp
    assert copy.reason_code is RejectReason.NAIVE_TIMESTAMP


# --- derived statistics -------------------------------------------------------


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=300))
def test_array_stats_match_the_array(values: list[float]) -> None:
    stats = array_stats(values)
    if not values:
        assert stats is None
        return
    assert stats is not None
    assert stats.min == min(values)
    assert stats.max == max(values)
    assert values[stats.argmin] == stats.min
    assert values[stats.argmax] == stats.max
    assert all(v > stats.min for v in values[: stats.argmin])  # first occurrence
    assert all(v < stats.max for v in values[: stats.argmax])
    assert stats.min <= stats.mean <= stats.max


def test_mean_of_equal_values_stays_within_min_and_max() -> None:
    stats = array_stats([0.1, 0.1, 0.1])
    assert stats is not None
    assert stats.min <= stats.mean <= stats.max


def test_with_cell_stats_fills_both_groups_and_leaves_input_alone() -> None:
    base = msgspec.structs.replace(
        examples.example_pack_sample(),
        cell_voltages=[3.30, 3.10, 3.45, 3.10],
        cell_temps=[25.0, 31.5, 31.5],
        cell_voltage_min_v=None,
        cell_temp_max_idx=None,
    )
    filled = with_cell_stats(base)
    assert base.cell_voltage_min_v is None
    assert (filled.cell_voltage_min_v, filled.cell_voltage_min_idx) == (3.10, 1)
    assert (filled.cell_voltage_max_v, filled.cell_voltage_max_idx) == (3.45, 2)
    assert filled.cell_voltage_mean_v == pytest.approx(3.2375)
    assert (filled.cell_temp_min_c, filled.cell_temp_min_idx) == (25.0, 0)
    assert (filled.cell_temp_max_c, filled.cell_temp_max_idx) == (31.5, 1)
    empty = with_cell_stats(msgspec.structs.replace(base, cell_temps=[]))
    assert empty.cell_temp_min_c is None
    assert empty.cell_temp_max_idx is None


def test_messages_are_immutable() -> None:
    sample = examples.example_pack_sample()
    with pytest.raises(AttributeError):
        sample.soc_pct = 1.0  # type: ignore[misc]
