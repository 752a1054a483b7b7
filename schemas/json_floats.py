"""JSON arrays of numbers straight into float64 arrays, without a Python float per value.

A ``PackSample`` carries ~250 numbers in two arrays. msgspec parses each into
a Python float (~65 ns each, most of a sample's decode time) that the
consumers then pack into float64 arrays again. The number parser here, in C
(``schemas/_json_floats.c``, built at install), reads them into float64
buffers instead: :func:`schemas.json_columns.decode_columns` uses it for whole
payloads (ingestion and scoring), and :func:`parse_arrays` gives it the JSON
text of many arrays of numbers alone, into one buffer (its tests use that).

Every number comes out as the double Python's ``float()`` gives for its text:
correctly rounded, by Clinger's fast path (up to 2^53 with a power of ten up
to 22, one exact operation) or else the Eisel-Lemire algorithm (a 128-bit
product with a truncated power of five; the algorithm of Go's strconv, Rust's
core and fast_float). What either cannot decide for certain, and anything
that is not a plain JSON number (null, strings, more than 19 significant
digits, an exponent beyond +-60, subnormals, a syntax error), is declined: the
whole array's count is -1 (and a payload holding it goes to the contract's
decoder). tests/unit/test_json_floats.py holds the parser to ``float()`` over
random doubles' shortest texts, random digit strings and the known hard cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from schemas._json_floats import parse as _parse
from schemas.messages import Buffer

#: The decimal exponents the parser takes (as _json_floats.c's Q_MIN and Q_MAX).
Q_MIN, Q_MAX = -60, 60


def _powers_of_five() -> NDArray[np.uint64]:
    """(hi, lo) 64-bit words of the 128-bit truncated power of five for q in [Q_MIN, Q_MAX]
    (fast_float's table: 5^q normalised to 128 bits; for q < 0, 2^b // 5^-q + 1)."""
    out = []
    for q in range(Q_MIN, Q_MAX + 1):
        if q < 0:
            p5 = 5**-q
            z = p5.bit_length()  # the least z with 2^z >= 5^-q (never a power of two)
            c = 2 ** (z + 127) // p5 + 1 if q >= -27 else 2 ** (2 * z + 128) // p5 + 1
            while c >= 1 << 128:
                c //= 2
        else:
            c = 5**q
            while c < 1 << 127:
                c *= 2
            while c >= 1 << 128:
                c //= 2
        out.append((c >> 64, c & (2**64 - 1)))
    return np.array(out, dtype=np.uint64)


POWERS_OF_FIVE = _powers_of_five()


def number_room(nbytes: int) -> NDArray[np.float64]:
    """An uninitialised buffer with room for every number in ``nbytes`` of JSON text:
    each takes at least two bytes (a digit and a separator), bar the last."""
    return np.empty(nbytes // 2 + 1)


def parse_arrays(
    texts: Sequence[Buffer],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Parse JSON arrays of numbers: (values, counts, offsets).

    Array ``k``'s values are ``values[offsets[k] : offsets[k] + counts[k]]``;
    ``counts[k]`` is -1 when it was declined (see the module's docstring).
    """
    joined = b"".join(texts)
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=bounds[1:])
    values = number_room(len(joined))
    counts = np.empty(len(texts), dtype=np.int64)
    offsets = np.empty(len(texts), dtype=np.int64)
    _parse(joined, bounds, POWERS_OF_FIVE, values, counts, offsets)
    return values, counts, offsets
