"""The compiled JSON array parser gives msgspec's bits, or declines; never anything else.

msgspec (the contract's decoder) reads a JSON number as float() reads its text,
bar one: the integer literal -0 is the int 0, so +0.0.
"""

from __future__ import annotations

import random
import struct
from decimal import Decimal, getcontext
from fractions import Fraction

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.json_floats import Q_MAX, Q_MIN, parse_arrays


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _parse_one(number: str) -> float | None:
    """The parser's double for one number, or None when it declines."""
    values, counts, offsets = parse_arrays([f"[{number}]".encode()])
    return None if counts[0] < 0 else float(values[offsets[0]])


_CONTRACT = msgspec.json.Decoder(list[float])


def _assert_all_exact(numbers: list[str]) -> int:
    """Each number parsed as msgspec parses it, or declined; returns how many were declined."""
    values, counts, offsets = parse_arrays([f"[{n}]".encode() for n in numbers])
    declined = 0
    for k, n in enumerate(numbers):
        if counts[k] < 0:
            declined += 1
            continue
        assert counts[k] == 1
        want = _CONTRACT.decode(f"[{n}]".encode())[0]
        assert _bits(float(values[offsets[k]])) == _bits(want), n
    return declined


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_shortest_text_of_any_double_parses_to_that_double(x: float) -> None:
    got = _parse_one(repr(x))
    if got is None:  # only outside the exponents it takes, or subnormal
        assert x != 0.0 and not (1e-40 <= abs(x) <= 1e40)
    else:
        assert _bits(got) == _bits(x)


def test_random_doubles_and_digit_strings_parse_exactly() -> None:
    rng = random.Random(7)
    doubles: list[str] = []
    while len(doubles) < 100_000:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if x == x and abs(x) != float("inf") and 1e-40 <= abs(x) <= 1e40:
            doubles.append(repr(x))
    assert _assert_all_exact(doubles) == 0
    strings = []
    for _ in range(100_000):
        digits = rng.randint(1, 19)
        w = rng.randint(10 ** (digits - 1), 10**digits - 1)
        strings.append(f"{'-' if rng.random() < 0.3 else ''}{w}e{rng.randint(-40, 40)}")
    assert _assert_all_exact(strings) == 0
    # Physical values as the decoder writes them: integer raw value times the scale.
    scaled = [repr(k * 0.001) for k in range(2500, 4300)] + [
        repr(k * 0.1) for k in range(-400, 1200)
    ]
    assert _assert_all_exact(scaled) == 0


def test_values_exactly_halfway_between_two_doubles_round_to_even() -> None:
    getcontext().prec = 60
    rng = random.Random(3)
    halfway = []
    for _ in range(20_000):
        m = rng.getrandbits(52) | (1 << 52)
        e = rng.randint(-20, 20)
        exact = Fraction(2 * m + 1) * Fraction(2) ** (e - 1)
        text = format(Decimal(exact.numerator) / Decimal(exact.denominator), "f")
        if len(text.replace(".", "").replace("-", "").lstrip("0")) <= 19:
            halfway.append(text)
    halfway += ["9007199254740993", "9007199254740995", "4503599627370497.5"]
    assert len(halfway) > 1000
    assert _assert_all_exact(halfway) == 0


def test_well_known_hard_cases() -> None:
    for text in ["0.1", "0.3", "2.675", "1e22", "1e23", "123456789012345678e-5",
                 "17976931348623157", "3.3160000000000003", "0.000123456789012345678", "-0",
                 "-0.0", "0e5"]:  # fmt: skip
        assert _assert_all_exact([text]) == 0, text
    for text, zero in (("-0.0", -0.0), ("-0e3", -0.0), ("-0", 0.0), ("0", 0.0)):
        got = _parse_one(text)
        assert got is not None and _bits(got) == _bits(zero), text


def test_anything_but_plain_numbers_is_declined() -> None:
    for text in ["null", '"1.0"', "[1.0]", "01", "1.", ".5", "+1", "1e", "1e+", "--1", "NaN",
                 "Infinity", "1.0 2.0", "1,", "true", "12345678901234567890",
                 f"1e{Q_MAX + 1}", f"1e{Q_MIN - 1}", "1e400", "1e-400", "1.0e00001",
                 "0." + "0" * 500 + "1"]:  # fmt: skip
        assert _parse_one(text) is None, text
    # Whole arrays: trailing commas, missing brackets, trailing text.
    texts = [b"[1.0,]", b"[1.0", b"1.0]", b"[1.0] x", b"", b"[,]"]
    _values, counts, _offsets = parse_arrays(texts)
    assert counts.tolist() == [-1] * len(texts)


def test_arrays_keep_their_lengths_and_places() -> None:
    texts = [b"[]", b" [ 1.5 , -2 ,\n3e-1 ] ", b"[null]", b"[4.25]"]
    values, counts, offsets = parse_arrays(texts)
    assert counts.tolist() == [0, 3, -1, 1]
    assert values[offsets[1] : offsets[1] + 3].tolist() == [1.5, -2.0, 0.3]
    assert values[offsets[3]] == 4.25
