"""The C column reader takes a payload only when it reads it as msgspec reads it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import at_micros
from schemas.examples import example_pack_sample
from schemas.json_columns import (
    ARRAYS,
    FIELDS,
    FLOATS,
    INTS,
    TIME_NULL,
    TIMES,
    Decoded,
    decode_columns,
    to_micros,
)
from schemas.json_floats import POWERS_OF_FIVE
from schemas.messages import encode
from schemas.pack_sample import PackSample

_decoder = msgspec.json.Decoder(PackSample)


def _row(d: Decoded, k: int) -> dict[str, Any]:
    """Row ``k`` as the fields msgspec would give (enums as their ints)."""
    out: dict[str, Any] = {}
    for j, name in enumerate(FLOATS):
        v = float(d.floats[k, j])
        out[name] = None if math.isnan(v) else v
    for j, name in enumerate(INTS):
        v = int(d.ints[k, j])
        out[name] = None if v == -1 else v
    for j, name in enumerate(TIMES):
        out[name] = int(d.times[k, j])
    for j, name in enumerate(ARRAYS):
        start, n = int(d.offsets[k, j]), int(d.counts[k, j])
        out[name] = d.values[start : start + n].tobytes()
    out |= {name: values[k] for name, values in (d.texts | d.int_lists).items()}
    return out


def _expected(s: PackSample) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in FIELDS:
        v = getattr(s, f.name)
        if f.name in TIMES:
            v = int(to_micros([v])[0])
        elif f.name in ARRAYS:
            v = np.array(v, dtype=np.float64).tobytes()  # the same bits, -0.0 included
        elif f.name in INTS and v is not None:
            v = int(v)
        out[f.name] = v
    return out


def _assert_read_as_msgspec(payload: bytes, d: Decoded, k: int) -> None:
    try:
        want = _decoder.decode(payload)
    except msgspec.DecodeError:
        raise AssertionError(f"taken, but msgspec refuses it: {payload[:200]!r}") from None
    if any(t is not None and t.utcoffset() is None for t in (want.ts, want.received_at)):
        raise AssertionError("a naive timestamp was taken")
    assert _row(d, k) == _expected(want)


def _refused(payload: bytes) -> bool:
    try:
        _decoder.decode(payload)
    except msgspec.DecodeError:
        return True
    return False


def _sample_text(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = msgspec.to_builtins(example_pack_sample())
    fields.update(changes)
    return fields


def test_payloads_as_producers_write_them_are_taken_as_msgspec_reads_them() -> None:
    samples = [
        example_pack_sample(),
        msgspec.structs.replace(example_pack_sample(), pack_id="PK-7", fault_codes=[3, 2**32 - 1]),
        msgspec.structs.replace(example_pack_sample(), soh_pct=None, received_at=None),
    ]
    payloads = [encode(s) for s in samples] + [json.dumps(_sample_text()).encode()]
    d = decode_columns(payloads)
    assert d.ok.all()
    for k, p in enumerate(payloads):
        _assert_read_as_msgspec(p, d, k)
    assert d.texts["pack_id"][1] == "PK-7"
    assert d.int_lists["fault_codes"][1] == [3, 2**32 - 1]
    assert d.times[2, TIMES.index("received_at")] == TIME_NULL


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("2026-11-26T10:00:00.5Z", datetime(2026, 11, 26, 10, 0, 0, 500_000, tzinfo=UTC)),
        ("2026-11-26T10:00:00.000001Z", datetime(2026, 11, 26, 10, 0, 0, 1, tzinfo=UTC)),
        (
            "2024-02-29T23:59:59.123+05:30",
            datetime(2024, 2, 29, 23, 59, 59, 123_000, tzinfo=timezone(timedelta(hours=5.5))),
        ),
        ("2026-01-01T00:30:00-01:00", datetime(2026, 1, 1, 1, 30, tzinfo=UTC)),
        ("1969-12-31T23:59:59.999999Z", datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_and_fractions_are_read_exactly(
    text: str, instant: datetime
) -> None:
    payload = json.dumps(_sample_text(ts=text)).encode()
    d = decode_columns([payload])
    assert d.ok.tolist() == [True]
    assert at_micros(int(d.times[0, TIMES.index("ts")])) == instant
    _assert_read_as_msgspec(payload, d, 0)


# Each is either something msgspec refuses, or something this reader leaves to it.
DECLINED = {
    "naive time": _sample_text(ts="2026-11-26T10:00:00"),
    "seven fraction digits": _sample_text(ts="2026-11-26T10:00:00.1234567Z"),
    "30 February": _sample_text(ts="2026-02-30T10:00:00Z"),
    "leap second": _sample_text(ts="2026-12-31T23:59:60Z"),
    "lower-case z": _sample_text(ts="2026-11-26T10:00:00z"),
    "space for T": _sample_text(ts="2026-11-26 10:00:00Z"),
    "negative seq": _sample_text(seq=-1),
    "fractional seq": _sample_text(seq=1.0),
    "seq past int64": _sample_text(seq=2**63),
    "negative index": _sample_text(cell_voltage_min_idx=-1),
    "enum non-member": _sample_text(contactor_state=3),
    "bool for float": _sample_text(soc_pct=True),
    "string for float": _sample_text(soc_pct="50"),
    "null for required": _sample_text(soc_pct=None),
    "null array": _sample_text(cell_temps=None),
    "escape in id": _sample_text(vehicle_id="bus\\u0030"),
    "non-ASCII id": _sample_text(vehicle_id="bus-é"),
    "negative fault code": _sample_text(fault_codes=[-1]),
    "float fault code": _sample_text(fault_codes=[1.5]),
}


@pytest.mark.parametrize("case", list(DECLINED))
def test_what_it_does_not_read_for_certain_is_declined(case: str) -> None:
    payload = json.dumps(DECLINED[case], ensure_ascii=False).encode()
    if case == "escape in id":
        payload = payload.replace(b"\\\\", b"\\")
    assert decode_columns([payload]).ok.tolist() == [False]


def _with_unknown(*members: tuple[int, str, bytes]) -> bytes:
    """The example payload with each (position, key, JSON text) inserted as a member in turn
    (position -1: last)."""
    out = [json.dumps({k: v})[1:-1].encode() for k, v in _sample_text().items()]
    for at, key, value in members:
        out.insert(len(out) if at == -1 else at, json.dumps(key).encode() + b":" + value)
    return b"{" + b",".join(out) + b"}"


# Values msgspec passes over under a key it does not know; so does this reader.
UNKNOWN_TAKEN = [
    b"1", b"-0", b"0.5E-3", b"-12.25e+7", b"1e999", b"-1e-999", b"1" + b"0" * 400,
    b'"text, with: {brackets} [and] commas"', b'""', b"true", b"false", b"null", b"[]", b"{}",
    b' [ 1 , { "a" : [ true , false , null ] } , "x" ] ', b'{"a": {"b": {"c": []}}, "a": 2}',
    b"[" * 32 + b"]" * 32,
]  # fmt: skip


@pytest.mark.parametrize("value", UNKNOWN_TAKEN)
@pytest.mark.parametrize("at", [0, 7, -1])
def test_a_key_the_contract_does_not_know_is_passed_over_as_msgspec_ignores_it(
    value: bytes, at: int
) -> None:
    payload = _with_unknown((at, "x_new", value))
    d = decode_columns([payload])
    assert d.ok.tolist() == [True]
    _assert_read_as_msgspec(payload, d, 0)


def test_several_and_repeated_unknown_keys_are_passed_over() -> None:
    payloads = [
        _with_unknown((0, "a", b"2"), (3, "b", b"[1]"), (-1, "a", b'{"z": 3}'), (9, "b", b'"y"')),
        _with_unknown((5, "a", b"{}")),
    ]
    d = decode_columns(payloads)
    assert d.ok.tolist() == [True, True]
    for k, p in enumerate(payloads):
        _assert_read_as_msgspec(p, d, k)


# Unknown values msgspec refuses (bad JSON), or takes but this reader leaves to it.
UNKNOWN_DECLINED = {
    "refused": [
        b"1.", b"01", b"-01", b".5", b"-", b"+1", b"1e", b"1e+", b"1.e3", b"[1,]", b'{"a":1,}',
        b"tru", b"nul", b"NaN", b"Infinity", b"[1 2]", b"{1:2}", b'{"a" 1}', b"[", b'"open',
        b'"\\x"', b"", b"[1]]",
    ],
    "left to msgspec": [b'"\\u00e9"', "\"é\"".encode(), b"[" * 33 + b"]" * 33],
}  # fmt: skip


@pytest.mark.parametrize(
    ("why", "value"), [(why, v) for why, vs in UNKNOWN_DECLINED.items() for v in vs]
)
def test_an_unknown_value_it_does_not_read_for_certain_is_declined(why: str, value: bytes) -> None:
    payload = _with_unknown((2, "x_new", value))
    assert decode_columns([payload]).ok.tolist() == [False]
    assert _refused(payload) == (why == "refused")


def test_missing_required_repeated_and_trailing_are_declined_and_defaults_filled() -> None:
    good = json.dumps(_sample_text())
    fields = _sample_text()
    del fields["seq"]
    optional_absent = {k: v for k, v in _sample_text().items() if k not in ("soh_pct", "pack_id",
                       "fault_codes", "schema_version", "received_at")}  # fmt: skip
    payloads = [
        json.dumps(fields).encode(),
        ('{"seq": 1, ' + good[1:]).encode(),
        (good + " x").encode(),
        (good[:-1]).encode(),
        json.dumps(optional_absent).encode(),
        (" \n" + good.replace(", ", " ,\n\t") + " \n").encode(),
    ]
    d = decode_columns(payloads)
    assert d.ok.tolist() == [False, False, False, False, True, True]
    assert d.ints[4, INTS.index("schema_version")] == 1
    assert d.int_lists["fault_codes"][4] == []
    assert d.texts["pack_id"][4] is None
    assert d.texts["vehicle_id"][0] is None  # a declined row holds no objects
    for k in (4, 5):
        _assert_read_as_msgspec(payloads[k], d, k)


_TOKENS = [
    b"-", b"0", b"1", b"9", b".", b"e", b"E", b"+", b"null", b"true", b'"', b"\\", b",", b":",
    b"[", b"]", b"{", b"}", b" ", b"Z", b"T", b"\xc3\xa9", b"\x00",
]  # fmt: skip


_ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | _ASCII,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ASCII, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@st.composite
def _with_unknowns(draw: st.DrawFn) -> bytes:
    """The example payload with up to three keys the contract does not know."""
    members = []
    for _ in range(draw(st.integers(1, 3))):
        key = "x_" + draw(st.text(st.sampled_from("abcxyz_"), max_size=6))
        separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
        value = json.dumps(draw(_JSON), separators=separators).encode()
        members.append((draw(st.integers(-1, 20)), key, value))
    return _with_unknown(*members)


@settings(max_examples=300, deadline=None)
@given(st.lists(_with_unknowns(), min_size=1, max_size=4))
def test_unknown_keys_with_any_json_value_are_taken_as_msgspec_reads_them(
    payloads: list[bytes],
) -> None:
    d = decode_columns(payloads)
    assert d.ok.all()
    for k, p in enumerate(payloads):
        _assert_read_as_msgspec(p, d, k)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """A valid payload, some with unknown keys, with a few bytes replaced, inserted or deleted."""
    start = draw(_with_unknowns()) if draw(st.booleans()) else encode(example_pack_sample())
    data = bytearray(start)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        token = draw(st.sampled_from(_TOKENS))
        if how == "replace":
            data[at : at + len(token)] = token
        elif how == "insert":
            data[at:at] = token
        else:
            del data[at : at + draw(st.integers(1, 4))]
    return bytes(data)


@settings(max_examples=600, deadline=None)
@given(st.lists(_mutated(), min_size=1, max_size=6))
def test_a_mutated_payload_is_declined_or_read_exactly_as_msgspec_reads_it(
    payloads: list[bytes],
) -> None:
    d = decode_columns(payloads)
    for k, p in enumerate(payloads):
        if d.ok[k]:
            _assert_read_as_msgspec(p, d, k)


def test_a_payload_that_is_not_bytes_is_declined_alone() -> None:
    good = encode(example_pack_sample())
    d = decode_columns([good, "not bytes", good])  # type: ignore[list-item]
    assert d.ok.tolist() == [True, False, True]


def test_a_constrained_field_has_no_column_reader() -> None:
    from typing import Annotated

    from schemas.json_columns import _constraints

    assert _constraints(Annotated[float, msgspec.Meta(description="x")] | None) == []
    assert _constraints(Annotated[float, msgspec.Meta(ge=0)] | None) == ["ge"]


def test_the_reader_takes_only_a_checked_field_table() -> None:
    from schemas import _json_floats

    with pytest.raises(ValueError, match="between 1 and 48"):
        _json_floats.fields([])
    with pytest.raises(ValueError, match="bad field"):
        _json_floats.fields([(b"x", 99, 0, False, True, -1, 0)])  # no such kind
    one_float = _json_floats.fields([(b"x", 1, 0, False, True, -1, 0)])
    floats, ok = np.empty((1, 1)), np.zeros(1, dtype=np.int8)
    empty = np.empty(0, dtype=np.int64)
    buffers = (POWERS_OF_FIVE, floats, empty, empty, np.empty(8), empty, empty, ok)
    assert _json_floats.decode(one_float, [b'{"x": 2.5}'], *buffers) == ((), ())
    assert ok.tolist() == [1] and floats[0, 0] == 2.5
    with pytest.raises(TypeError, match="must come from fields"):
        _json_floats.decode(object(), [b'{"x": 2.5}'], *buffers)
