"""CanBundle binary encoding: lossless round trip, and clear refusals of bad payloads."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.can.bundle import (
    FRAME_SIZE,
    BundleDecodeError,
    CanBundle,
    decode_bundle,
    decode_header,
    encode_bundle,
)

frames_st = st.lists(
    st.integers(0, 8).flatmap(
        lambda dlc: st.tuples(
            st.integers(0, 0x1FFFFFFF), st.just(dlc), st.binary(min_size=dlc, max_size=dlc)
        )
    ),
    max_size=120,
)
bundles_st = st.builds(
    CanBundle,
    vehicle_id=st.text(min_size=1, max_size=60).filter(lambda s: len(s.encode()) <= 255),
    ts_us=st.integers(-(2**62), 2**62),
    seq=st.integers(0, 2**32 - 1),
    frames=frames_st,
)


@given(bundles_st)
def test_round_trip_is_lossless(b: CanBundle) -> None:
    data = encode_bundle(b)
    assert len(data) == 18 + len(b.vehicle_id.encode()) + FRAME_SIZE * len(b.frames)
    assert decode_bundle(data) == b
    assert decode_bundle(memoryview(data)) == b


@given(bundles_st, st.data())
def test_every_truncation_is_refused_as_truncated(b: CanBundle, data: st.DataObject) -> None:
    raw = encode_bundle(b)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(BundleDecodeError) as err:
        decode_bundle(raw[:cut])
    assert err.value.reason == "truncated"


@given(st.binary(max_size=300).filter(lambda b: b[:2] != b"PW"))
def test_garbage_is_refused_with_a_reason(garbage: bytes) -> None:
    with pytest.raises(BundleDecodeError) as err:
        decode_bundle(garbage)
    assert err.value.reason in {"truncated", "bad_magic"}


def _one_frame_bundle() -> bytes:
    return encode_bundle(
        CanBundle("bus-7", 1_700_000_000_000_000, 3, [(0x18F090F3, 8, bytes(range(8)))])
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: b"XX" + r[2:], "bad_magic"),
        (lambda r: r[:2] + b"\x02" + r[3:], "unsupported_version"),
        (lambda r: r[:3] + b"\x00" + r[4:], "bad_vehicle_id"),
        (lambda r: r[:4] + b"\xff" + r[5:], "bad_vehicle_id"),
        (lambda r: r + b"\x00", "trailing_bytes"),
        (lambda r: r[:-13] + struct.pack("<IB8s", 0x20000000, 8, b""), "bad_can_id"),
        (lambda r: r[:-13] + struct.pack("<IB8s", 0x18F090F3, 9, b""), "bad_dlc"),
        (lambda r: r[:-13] + struct.pack("<IB8s", 0x18F090F3, 2, b"abc"), "nonzero_padding"),
    ],
)
def test_malformed_fields_are_refused_with_their_reason(mutate: object, reason: str) -> None:
    raw = mutate(_one_frame_bundle())  # type: ignore[operator]
    with pytest.raises(BundleDecodeError) as err:
        decode_bundle(raw)
    assert err.value.reason == reason
    assert str(err.value).startswith(reason)


def test_header_alone_is_readable_without_the_frames() -> None:
    h = decode_header(_one_frame_bundle())
    assert (h.vehicle_id, h.seq, h.n_frames, h.frames_offset) == ("bus-7", 3, 1, 23)


def test_encode_refuses_what_the_layout_cannot_hold() -> None:
    with pytest.raises(ValueError, match="29-bit"):
        encode_bundle(CanBundle("b", 0, 0, [(0x20000000, 0, b"")]))
    with pytest.raises(ValueError, match="dlc"):
        encode_bundle(CanBundle("b", 0, 0, [(1, 3, b"ab")]))
    with pytest.raises(ValueError, match="uint32"):
        encode_bundle(CanBundle("b", 0, 2**32, []))
    with pytest.raises(ValueError, match="vehicle id"):
        encode_bundle(CanBundle("", 0, 0, []))


def test_timestamps_are_timezone_aware_utc() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=ist)
    b = CanBundle.at("bus-1", when, 1, [])
    assert b.ts == when and b.ts.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        CanBundle.at("bus-1", datetime(2026, 1, 1), 1, [])  # noqa: DTZ001 - the naive case under test
