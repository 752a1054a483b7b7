"""PostgreSQL's binary COPY format, encoded for ``pack_samples`` rows.

asyncpg's ``copy_records_to_table`` spends most of its time encoding the two
``real[]`` arrays element by element (~160 µs a row for 240 values on this
machine's cores). Here each array is one numpy conversion, and the scalar
columns use precompiled ``struct`` formats, so a row costs a few tens of
microseconds. The column kinds come from the table definition, so a column
added to ``pack_samples`` fails loudly here instead of being encoded wrongly.

Format: https://www.postgresql.org/docs/current/sql-copy.html (binary format);
arrays as PostgreSQL's ``array_send``: ndim, has-nulls flag, element type oid,
then (length, lower bound) per dimension, then (length, value) per element.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, DateTime, Float, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, REAL

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_OID = {"float4": 700, "int8": 20}
_ELEMENT = {
    "float4": np.dtype([("n", ">i4"), ("v", ">f4")]),
    "int8": np.dtype([("n", ">i4"), ("v", ">i8")]),
}

Encoder = Callable[[Any], bytes]


def _text(v: Any) -> bytes:
    b = str(v).encode()
    return struct.pack(">i", len(b)) + b


_TSTZ = struct.Struct(">iq")
_I8 = struct.Struct(">iq")
_I2 = struct.Struct(">ih")
_F4 = struct.Struct(">if")
_F8 = struct.Struct(">id")
_ARR_HEAD = struct.Struct(">iiiiii")
_ARR_EMPTY = struct.Struct(">iiii")


def _tstz(v: datetime) -> bytes:
    return _TSTZ.pack(8, (v - _PG_EPOCH) // _US)


def _array(kind: str) -> Encoder:
    oid, dtype, size = _OID[kind], _ELEMENT[kind], 4 if kind == "float4" else 8

    def encode(values: Sequence[float] | Sequence[int]) -> bytes:
        n = len(values)
        if n == 0:
            return _ARR_EMPTY.pack(12, 0, 0, oid)
        elements = np.empty(n, dtype=dtype)
        elements["n"] = size
        elements["v"] = values
        return _ARR_HEAD.pack(20 + n * (4 + size), 1, 0, oid, n, 1) + elements.tobytes()

    return encode


def _encoder_for(column_type: Any) -> Encoder:
    if isinstance(column_type, ARRAY):
        item = column_type.item_type
        if isinstance(item, REAL):
            return _array("float4")
        if isinstance(item, BigInteger):
            return _array("int8")
    elif isinstance(column_type, REAL):
        return lambda v: _F4.pack(4, v)
    elif isinstance(column_type, Float):
        return lambda v: _F8.pack(8, v)
    elif isinstance(column_type, SmallInteger):
        return lambda v: _I2.pack(2, v)
    elif isinstance(column_type, BigInteger):
        return lambda v: _I8.pack(8, v)
    elif isinstance(column_type, DateTime):
        return _tstz
    elif isinstance(column_type, Text):
        return _text
    raise TypeError(f"no binary COPY encoder for {column_type!r}")


class BinaryCopyEncoder:
    """Encodes records (tuples in ``columns`` order) of ``table`` as a binary COPY stream."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._encoders = [_encoder_for(table.c[name].type) for name in columns]
        self._count = struct.pack(">h", len(columns))

    def encode(self, records: Iterable[Sequence[Any]]) -> bytes:
        """The whole stream: header, one tuple per record, trailer."""
        parts = [HEADER]
        append = parts.append
        count = self._count
        encoders = self._encoders
        for record in records:
            append(count)
            for value, enc in zip(record, encoders, strict=True):
                append(NULL if value is None else enc(value))
        append(TRAILER)
        return b"".join(parts)


async def as_source(data: bytes) -> Any:
    """``data`` as the async iterable asyncpg's ``copy_to_table`` takes (bytes alone
    would be read as a file name)."""
    yield data
