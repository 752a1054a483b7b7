"""The vectorised decoder equals cantools, frame by frame, on random bundles.

cantools decoding each frame on its own is the oracle. Bundles are random:
mostly raw random data bits (so every bit pattern, sign bit and J1939
not-available value occurs), some encoded from random physical values, with
random source addresses and priorities, random cell and sensor counts,
unknown identifiers, undefined multiplexer values, repeated frames and
shuffled frame order.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.can import frame_id, load_database, message_for_frame_id, pgn_of
from schemas.can.bundle import CanBundle, Frame, encode_bundle, encode_signals
from schemas.can.samples import random_input
from schemas.can.signals import MAX_CELLS, MAX_TEMP_SENSORS, SignalDef, message_table
from services.decoder.vectorized import DecodedBatch, VectorDecoder

DECODER = VectorDecoder()
TABLE = message_table()
SIGNALS: dict[str, SignalDef] = {s.name: s for m in TABLE for s in m.signals}
PLAIN = [m for m in TABLE if not any(s.is_multiplexer for s in m.signals)]
PGN = {m.name: m.pgn for m in TABLE}
KNOWN_PGNS = {m.pgn for m in TABLE}
UNKNOWN_PGNS = [p for p in (0xFECA, 0xFEEE, 0xFF00, 0xF004, 0xFF7F) if p not in KNOWN_PGNS]
BUNDLES_PER_EXAMPLE = 500
EXAMPLES = 20  # 20 x 500 = 10,000 bundles


def _rand_id(rng: random.Random, pgn: int) -> int:
    return frame_id(pgn, rng.randrange(256), rng.randrange(8))


def _rand_bytes(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(8 * n).to_bytes(n, "little")


def _raw_frames(rng: random.Random) -> list[Frame]:
    frames: list[Frame] = []
    for m in PLAIN:
        if rng.random() < 0.85:
            frames.append((_rand_id(rng, m.pgn), 8, _rand_bytes(rng, 8)))
    counts = {
        "PW_CELLV": -(-rng.randint(0, MAX_CELLS) // 3),
        "PW_CELLT": -(-rng.randint(0, MAX_TEMP_SENSORS) // 7),
        "PW_FAULTS": rng.randint(0, 8),
    }
    for name, n in counts.items():
        for k in range(n):
            frames.append((_rand_id(rng, PGN[name]), 8, bytes([k]) + _rand_bytes(rng, 7)))
    if rng.random() < 0.1:  # a group the DBC does not define
        frames.append((_rand_id(rng, rng.choice(UNKNOWN_PGNS)), 8, _rand_bytes(rng, 8)))
    if rng.random() < 0.1:  # a multiplexer value the DBC does not define
        frames.append(
            (_rand_id(rng, PGN["PW_CELLV"]), 8, bytes([rng.randint(80, 255)]) + _rand_bytes(rng, 7))
        )
    if frames and rng.random() < 0.15:  # the same group twice: the later frame must win
        can_id, dlc, data = rng.choice(frames)
        frames.append((can_id, dlc, data[:1] + _rand_bytes(rng, 7)))
    if rng.random() < 0.5:
        rng.shuffle(frames)
    return frames


def _physical_frames(rng: random.Random) -> list[Frame]:
    inp = random_input(
        np.random.default_rng(rng.getrandbits(64)),
        rng.randint(0, MAX_CELLS),
        rng.randint(0, MAX_TEMP_SENSORS),
        rng.randint(0, 16),
    )
    return encode_signals(
        inp.state,
        cell_voltages=inp.cell_voltages,
        temperatures=inp.temperatures,
        faults=inp.faults,
        source_address=rng.randrange(256),
        priority=rng.randrange(8),
    )


def random_bundles(seed: int, n: int) -> list[CanBundle]:
    """``n`` random bundles; about one in ten encoded from physical values."""
    rng = random.Random(seed)
    return [
        CanBundle(
            f"bus-{i}",
            rng.getrandbits(50),
            i,
            _physical_frames(rng) if rng.random() < 0.1 else _raw_frames(rng),
        )
        for i in range(n)
    ]


#: signal name -> (physical value from which J1939 means "not available", array, index)
PLACE = {
    s.name: (math.inf if s.na_raw is None else s.na_raw * s.scale + s.offset, s.array, s.index)
    for s in SIGNALS.values()
    if not s.is_multiplexer
}


def oracle(bundles: list[CanBundle]) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """cantools, one frame at a time: scalars, arrays and unknown-frame counts per bundle."""
    n = len(bundles)
    scalars = {
        s.name: np.full(n, np.nan)
        for m in TABLE
        for s in m.signals
        if s.array is None and not s.is_multiplexer
    }
    arrays = {
        "CellVoltage": np.full((n, MAX_CELLS), np.nan),
        "TempSensor": np.full((n, MAX_TEMP_SENSORS), np.nan),
        "Fault_Spn": np.full((n, 16), np.nan),
        "Fault_Fmi": np.full((n, 16), np.nan),
    }
    unknown = [0] * n
    for i, b in enumerate(bundles):
        for can_id, _, data in b.frames:
            msg = message_for_frame_id(can_id)
            if msg is None:
                unknown[i] += 1
                continue
            try:
                decoded = msg.decode(data, decode_choices=False)
            except Exception as exc:  # noqa: BLE001 - cantools raises its base Error here
                assert "multiplexer" in str(exc)
                unknown[i] += 1
                continue
            for name, value in decoded.items():
                place = PLACE.get(name)
                if place is None:  # the multiplexer index itself
                    continue
                na, array, index = place
                if value >= na:
                    value = math.nan
                if array is None:
                    scalars[name][i] = value
                else:
                    arrays[array][i, index] = value
    return scalars, arrays, unknown


def _assert_equal(got: DecodedBatch, bundles: list[CanBundle]) -> None:
    scalars, arrays, unknown = oracle(bundles)
    assert set(got.scalars) == set(scalars)
    for name, want in scalars.items():
        np.testing.assert_allclose(
            got.scalars[name], want, rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=name
        )
    for prefix, want in arrays.items():
        np.testing.assert_allclose(
            got.arrays[prefix], want, rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=prefix
        )
    assert got.unknown_frames.tolist() == unknown
    assert not got.bad.any() and got.reasons == [None] * len(bundles)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=False)
@given(seed=st.integers(0, 2**63 - 1))
def test_vectorised_decoder_equals_cantools(seed: int) -> None:
    bundles = random_bundles(seed, BUNDLES_PER_EXAMPLE)
    got = DECODER.decode_payloads([encode_bundle(b) for b in bundles])
    _assert_equal(got, bundles)
    assert got.vehicle_ids == [b.vehicle_id for b in bundles]
    assert got.ts_us.tolist() == [b.ts_us for b in bundles]
    assert got.seq.tolist() == [b.seq for b in bundles]


def test_parsed_bundles_decode_like_payloads() -> None:
    bundles = random_bundles(7, 50)
    _assert_equal(DECODER.decode_bundles(bundles), bundles)


def test_decoder_groups_arrays_as_the_table_does() -> None:
    want = {s.array: 0 for s in SIGNALS.values() if s.array is not None}
    for s in SIGNALS.values():
        if s.array is not None and s.index is not None:
            want[s.array] = max(want[s.array], s.index + 1)
    assert want == DECODER.array_sizes
    assert len(load_database().messages) == len(DECODER.groups)


def _good_frames() -> list[Frame]:
    return _raw_frames(random.Random(3))


def test_bad_bundles_are_flagged_and_the_rest_still_decode() -> None:
    good = CanBundle("ok", 1, 1, _good_frames())
    short = [f for f in _good_frames() if pgn_of(f[0]) == PGN["HVESSD1"]]
    wrong_dlc = CanBundle("short", 2, 2, [(short[0][0], 6, short[0][2][:6]), *good.frames])
    payloads = [
        encode_bundle(good),
        encode_bundle(wrong_dlc),
        b"PW\x01",
        b"garbage-bytes!!!",
        encode_bundle(good)[:-1],
        encode_bundle(good),
    ]
    got = DECODER.decode_payloads(payloads)
    assert got.bad.tolist() == [False, True, True, True, True, False]
    assert got.reasons == [None, "wrong_dlc:HVESSD1", "truncated", "bad_magic", "truncated", None]
    want = DECODER.decode_bundles([good])
    for name, value in want.scalars.items():
        np.testing.assert_array_equal(got.scalars[name][[0, 5]], np.repeat(value, 2))
    # the wrong-dlc bundle keeps its other groups' values, its HVESSD1 comes from the good frame
    np.testing.assert_array_equal(got.scalars["HVESS_Voltage"][1], want.scalars["HVESS_Voltage"][0])


def test_frames_the_bundle_layout_forbids_are_flagged_not_raised() -> None:
    raw = bytearray(encode_bundle(CanBundle("x", 0, 0, [(0x18F090F3, 8, bytes(8))])))
    raw[-13 + 3] = 0xFF  # identifier bits above 29 set
    got = DECODER.decode_payloads([bytes(raw)])
    assert got.reasons == ["bad_can_id"]
    raw = bytearray(encode_bundle(CanBundle("x", 0, 0, [(0x18F090F3, 8, bytes(8))])))
    raw[-9] = 12  # dlc 12
    got = DECODER.decode_payloads([bytes(raw)])
    assert got.reasons == ["bad_dlc"] and math.isnan(got.scalars["HVESS_Voltage"][0])


@pytest.mark.parametrize("n", [0, 1])
def test_empty_batches_and_empty_bundles(n: int) -> None:
    got = DECODER.decode_payloads([encode_bundle(CanBundle("e", 0, 0, []))] * n)
    assert got.n == n and got.cell_voltages.shape == (n, MAX_CELLS)
    assert np.isnan(got.temperatures).all()
