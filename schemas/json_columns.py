"""``PackSample`` payloads straight into columns, in C, for the common case.

Ingestion turns thousands of payloads a second into columns. Decoding each
into a struct of Python objects only to gather them into arrays again cost
more than a third of its CPU. :func:`decode_columns` reads the JSON text of a
whole list of payloads in C (``schemas/_json_floats.c``, beside the number
parser of :mod:`schemas.json_floats`, whose numbers it shares) into one array
per kind of field (float64 for numbers, int64 for integers and times), plus
Python objects only where the columns hold them (ids, fault-code lists).

A key that is no field of the contract is passed over with its value, as the
contract's decoder ignores it: a producer on a later v1 with a new optional
field stays on this path. The value is checked as strict JSON on the way, so
a payload msgspec would refuse is never taken.

It takes only what it reads for certain and declines the rest, which then
goes to the contract's own decoder (``ok`` False): a repeated key, an escape
or a non-ASCII byte in a string, a timestamp other than
``YYYY-MM-DDTHH:MM:SS[.ffffff]`` with ``Z`` or ``±HH:MM``, a negative or
fractional integer, an integer that is no member of its enum, a number the
number parser declines, an unknown key's value nested more than 32 deep,
any syntax error. What it takes, it reads as msgspec reads it into
:class:`schemas.pack_sample.PackSample` (tests/unit/test_json_columns.py holds
it to that).

The fields come from :class:`PackSample` itself: a field of a type this reader
does not know fails at import, instead of being read wrongly.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from schemas import _json_floats
from schemas.common import micros
from schemas.json_floats import POWERS_OF_FIVE, number_room
from schemas.messages import Buffer
from schemas.pack_sample import PackSample

#: A NULL in an int column of times (microseconds since 1970 UTC).
TIME_NULL = np.iinfo(np.int64).min

# Kinds as _json_floats.c numbers them.
_FLOAT, _INT, _ENUM, _STR, _TIME, _ARRAY, _INT_LIST = range(1, 8)


@dataclass(frozen=True)
class _Field:
    name: str
    kind: int
    nullable: bool
    required: bool
    default: int  # an int field's default when absent (-1: None)
    enum_mask: int  # enum fields: bit v set for each member value v


def _field(f: msgspec.structs.FieldInfo, hint: Any) -> _Field:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    nullable = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = args[0] if nullable and len(args) == 1 else hint
    if nullable and len(args) != 1:
        raise TypeError(f"{f.name}: no column reader for {hint!r}")
    default = f.default if not f.required and isinstance(f.default, int) else -1
    if base is float:
        kind, mask = _FLOAT, 0
    elif base is int:
        kind, mask = _INT, 0
    elif isinstance(base, type) and issubclass(base, enum.IntEnum):
        kind, mask = _ENUM, sum(1 << int(m) for m in base)
        if max(int(m) for m in base) >= 64 or min(int(m) for m in base) < 0:
            raise TypeError(f"{f.name}: enum values outside 0..63")
    elif base is str:
        kind, mask = _STR, 0
    elif base is datetime:
        kind, mask = _TIME, 0
    elif base == list[float]:
        kind, mask = _ARRAY, 0
    elif base == list[int]:
        kind, mask = _INT_LIST, 0
    else:
        raise TypeError(f"{f.name}: no column reader for {hint!r}")
    if kind == _INT_LIST:
        if not f.required and f.default_factory is not list:
            raise TypeError(f"{f.name}: an int list defaults to []")
    elif not f.required and f.default is not None and kind != _INT:
        raise TypeError(f"{f.name}: only int fields may default to a value other than None")
    return _Field(f.name, kind, nullable, f.required, default, mask)


# msgspec.Meta attributes that constrain values (the others only document them).
_CONSTRAINTS = ("ge", "gt", "le", "lt", "multiple_of", "pattern", "min_length", "max_length", "tz")


def _constraints(hint: Any) -> list[str]:
    """The value constraints of every msgspec.Meta in ``hint`` (nested unions included)."""
    found = []
    for arg in typing.get_args(hint):
        if isinstance(arg, msgspec.Meta):
            found += [c for c in _CONSTRAINTS if getattr(arg, c) is not None]
        else:
            found += _constraints(arg)
    return found


def _fields() -> tuple[_Field, ...]:
    config = PackSample.__struct_config__
    if config.tag is not None or config.array_like or config.forbid_unknown_fields:
        # The reader passes over unknown keys, as a struct that ignores them does.
        raise TypeError("PackSample: no column reader for a tagged, array-like or strict struct")
    extras = typing.get_type_hints(PackSample, include_extras=True)
    hints = typing.get_type_hints(PackSample)  # Annotated stripped
    out = []
    for f in msgspec.structs.fields(PackSample):
        if f.encode_name != f.name or (found := _constraints(extras[f.name])):
            raise TypeError(f"{f.name}: no column reader for a renamed field or for {found}")
        out.append(_field(f, hints[f.name]))
    return tuple(out)


FIELDS = _fields()


def _names(*kinds: int) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS if f.kind in kinds)


FLOATS = _names(_FLOAT)
INTS = _names(_INT, _ENUM)
TIMES = _names(_TIME)
TEXTS = _names(_STR)
ARRAYS = _names(_ARRAY)
INT_LISTS = _names(_INT_LIST)
_SLOT = {
    name: names.index(name)
    for names in (FLOATS, INTS, TIMES, TEXTS, ARRAYS, INT_LISTS)
    for name in names
}
#: PackSample's keys as the C reader holds them (a capsule it checked).
_SPEC = _json_floats.fields(
    [
        (f.name.encode(), f.kind, _SLOT[f.name], f.nullable, f.required, f.default, f.enum_mask)
        for f in FIELDS
    ]
)


@dataclass
class Decoded:
    """Payloads as columns; row ``k`` is payload ``k``, meaningful where ``ok[k]``.

    ``floats[:, FLOATS.index(name)]`` (NaN: None), ``ints[:, INTS.index(name)]``
    (-1: None; enum members as their values), ``times[:, TIMES.index(name)]``
    (microseconds since 1970 UTC; :data:`TIME_NULL`: None), ``texts[name]`` and
    ``int_lists[name]`` (one object per payload, None where not ok), and array
    ``name``'s values of row ``k``: ``values[offsets[k, j] : offsets[k, j] +
    counts[k, j]]`` with ``j = ARRAYS.index(name)``.
    """

    ok: NDArray[np.bool_]
    floats: NDArray[np.float64]
    ints: NDArray[np.int64]
    times: NDArray[np.int64]
    texts: dict[str, list[Any]]
    int_lists: dict[str, list[Any]]
    values: NDArray[np.float64]
    counts: NDArray[np.int64]
    offsets: NDArray[np.int64]


def decode_columns(payloads: Sequence[Buffer]) -> Decoded:
    """Read ``payloads`` (each a JSON ``PackSample``) into columns; see :class:`Decoded`."""
    items = list(payloads)
    n = len(items)
    values = number_room(sum(len(p) for p in items))
    floats = np.empty((n, len(FLOATS)))
    ints = np.empty((n, len(INTS)), dtype=np.int64)
    times = np.empty((n, len(TIMES)), dtype=np.int64)
    counts = np.zeros((n, len(ARRAYS)), dtype=np.int64)
    offsets = np.zeros((n, len(ARRAYS)), dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    texts, lists = _json_floats.decode(
        _SPEC, items, POWERS_OF_FIVE, floats, ints, times, values, counts, offsets, ok.view(np.int8)
    )
    # Give back the room the numbers did not take (the rows may be views of it).
    used = int((offsets[ok] + counts[ok]).max(initial=0))
    values.resize(max(1, used), refcheck=False)
    return Decoded(
        ok=ok,
        floats=floats,
        ints=ints,
        times=times,
        texts=dict(zip(TEXTS, texts, strict=True)),
        int_lists=dict(zip(INT_LISTS, lists, strict=True)),
        values=values,
        counts=counts,
        offsets=offsets,
    )


def to_micros(values: Sequence[datetime | None]) -> NDArray[np.int64]:
    """Aware datetimes as microseconds since 1970 UTC (:data:`TIME_NULL` for None)."""
    return np.array([TIME_NULL if v is None else micros(v) for v in values], dtype=np.int64)
