"""PostgreSQL's binary COPY format, encoded column by column for ``pack_samples``.

Ingestion holds a batch as columns (:class:`schemas.pack_batch.SampleColumns`),
so a batch is encoded with a handful of numpy assignments instead of a Python
loop over rows: every column whose values have one width in the batch (numbers,
timestamps, the fixed-length cell arrays, ids of one length, a column that is
NULL throughout) becomes a field of one numpy structured array, whose bytes are
the rows. Only a column of varying width (ids of different lengths, fault codes,
a column NULL in some rows only) is encoded row by row, and the encoder puts
those columns last. The column kinds come from the table definition, so a
column added to ``pack_samples`` fails loudly here instead of being encoded
wrongly.

Format: https://www.postgresql.org/docs/current/sql-copy.html (binary format);
arrays as PostgreSQL's ``array_send``: ndim, has-nulls flag, element type oid,
then (length, lower bound) per dimension, then (length, value) per element.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import BigInteger, DateTime, Float, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, REAL

from schemas.common import micros
from schemas.json_columns import TIME_NULL
from schemas.pack_batch import SampleColumns

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
_PG_EPOCH_US = micros(datetime(2000, 1, 1, tzinfo=UTC))
_FLOAT4_OID = 700
_INT8_OID = 20
_FLOAT4_ELEMENT = np.dtype([("n", ">i4"), ("v", ">f4")])
_INT8_ELEMENT = np.dtype([("n", ">i4"), ("v", ">i8")])
_ARR_HEAD = struct.Struct(">iiiiii")
_ARR_EMPTY = struct.Struct(">iiii")
_STRUCT_CODE = {">f4": "f", ">f8": "d", ">i2": "h", ">i8": "q"}

# One column of a batch, encoded: either a field of the structured row array
# (its dtype and a function filling it) or one bytes value per row.
Fixed = tuple[np.dtype[Any], Callable[[Any], None]]
Column = Fixed | list[bytes]


def _scalar(values: NDArray[Any], nulls: NDArray[np.bool_], fmt: str) -> Column:
    """A number column; ``nulls`` marks NULL rows."""
    size = np.dtype(fmt).itemsize
    if not nulls.any():
        dtype = np.dtype([("l", ">i4"), ("v", fmt)])

        def fill(f: Any) -> None:
            f["l"] = size
            f["v"] = values

        return dtype, fill
    if nulls.all():
        return _all_null()
    packer = struct.Struct(">i" + _STRUCT_CODE[fmt])
    pairs = zip(values.tolist(), nulls.tolist(), strict=True)
    return [NULL if null else packer.pack(size, v) for v, null in pairs]


def _all_null() -> Column:
    def fill(f: Any) -> None:
        f[...] = -1

    return np.dtype(">i4"), fill


def _float_column(fmt: str) -> Callable[[NDArray[np.float64]], Column]:
    def encode(values: NDArray[np.float64]) -> Column:
        return _scalar(values, np.isnan(values), fmt)

    return encode


def _int_column(fmt: str) -> Callable[[NDArray[np.int64]], Column]:
    def encode(values: NDArray[np.int64]) -> Column:
        return _scalar(values, values == -1, fmt)  # -1 is None (SampleColumns)

    return encode


def _timestamps(values: NDArray[np.int64]) -> Column:
    """Microseconds since 1970 (SampleColumns.times) as PostgreSQL's since 2000."""
    nulls = values == TIME_NULL
    return _scalar(np.where(nulls, 0, values - _PG_EPOCH_US), nulls, ">i8")


def _texts(values: list[str | None]) -> Column:
    if all(v is None for v in values):
        return _all_null()
    encoded = [None if v is None else v.encode() for v in values]
    widths = {len(b) for b in encoded if b is not None}
    if None not in encoded and len(widths) == 1 and (width := widths.pop()) > 0:
        dtype = np.dtype([("l", ">i4"), ("v", f"S{width}")])

        def fill(f: Any) -> None:
            f["l"] = width
            f["v"] = encoded

        return dtype, fill
    return [NULL if b is None else struct.pack(">i", len(b)) + b for b in encoded]


def _float4_arrays(values: NDArray[np.float64]) -> Column:
    """Fixed-length ``real[]`` values, one row of ``values`` each."""
    k = values.shape[1]
    if k == 0:
        head = np.array([12, 0, 0, _FLOAT4_OID])

        def fill_empty(f: Any) -> None:
            f["h"] = head

        return np.dtype([("h", ">i4", (4,))]), fill_empty
    head = np.array([20 + k * 8, 1, 0, _FLOAT4_OID, k, 1])
    dtype = np.dtype([("h", ">i4", (6,)), ("e", _FLOAT4_ELEMENT, (k,))])

    def fill(f: Any) -> None:
        f["h"] = head
        f["e"]["n"] = 4
        f["e"]["v"] = values

    return dtype, fill


def _int8_array(values: Sequence[int]) -> bytes:
    n = len(values)
    if n == 0:
        return _ARR_EMPTY.pack(12, 0, 0, _INT8_OID)
    elements = np.empty(n, dtype=_INT8_ELEMENT)
    elements["n"] = 8
    elements["v"] = values
    return _ARR_HEAD.pack(20 + n * 12, 1, 0, _INT8_OID, n, 1) + elements.tobytes()


def _int8_arrays(values: list[list[int] | None]) -> Column:
    if all(v is None for v in values):
        return _all_null()
    return [NULL if v is None else _int8_array(v) for v in values]


# Where each kind of column lives in SampleColumns, how it is encoded, and
# whether its width can vary from row to row (such columns go last).
_Kind = tuple[str, Callable[[Any], Column], bool]


def _kind_for(column_type: Any) -> _Kind:
    if isinstance(column_type, ARRAY):
        item = column_type.item_type
        if isinstance(item, REAL):
            return "arrays", _float4_arrays, False
        if isinstance(item, BigInteger):
            return "int_lists", _int8_arrays, True
    elif isinstance(column_type, REAL):
        return "floats", _float_column(">f4"), False
    elif isinstance(column_type, Float):
        return "floats", _float_column(">f8"), False
    elif isinstance(column_type, SmallInteger):
        return "ints", _int_column(">i2"), False
    elif isinstance(column_type, BigInteger):
        return "ints", _int_column(">i8"), False
    elif isinstance(column_type, DateTime):
        return "times", _timestamps, False
    elif isinstance(column_type, Text):
        return "text", _texts, True
    raise TypeError(f"no binary COPY encoder for {column_type!r}")


class BinaryCopyEncoder:
    """Encodes :class:`SampleColumns` as ``table`` rows in a binary COPY stream.

    ``columns`` is the order COPY must name (variable-width kinds last).
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        kinds = {name: _kind_for(table.c[name].type) for name in columns}
        self.columns = tuple(sorted(columns, key=lambda name: kinds[name][2]))
        self._kinds = [(name, *kinds[name][:2]) for name in self.columns]
        self._count = np.dtype(">i2")
        self._count_value = len(columns)

    def encode(self, groups: Iterable[SampleColumns]) -> bytes:
        """The whole stream: header, every row of every group, trailer."""
        return b"".join([HEADER, *(self._rows(g) for g in groups if len(g)), TRAILER])

    def _rows(self, cols: SampleColumns) -> bytes:
        n = len(cols)
        fixed: list[tuple[str, np.dtype[Any], Callable[[Any], None]]] = [
            ("n", self._count, lambda f: f.fill(self._count_value))
        ]
        tail: list[list[bytes]] = []
        for name, where, encode in self._kinds:
            column = encode(getattr(cols, where)[name])
            if isinstance(column, list):
                tail.append(column)
            elif tail:
                # A fixed column after a variable one (only when a fixed kind
                # holds mixed NULLs): its bytes join the row-by-row part.
                tail.append(_fixed_bytes(n, column))
            else:
                fixed.append((name, *column))
        rows = np.empty(n, dtype=np.dtype([(name, dt) for name, dt, _ in fixed]))
        for name, _, fill in fixed:
            fill(rows[name])
        if not tail:
            return rows.tobytes()
        head = _split(rows.tobytes(), rows.dtype.itemsize, n)
        return b"".join(b"".join(parts) for parts in zip(head, *tail, strict=True))


def _split(data: bytes, width: int, n: int) -> list[bytes]:
    return [data[i * width : (i + 1) * width] for i in range(n)]


def _fixed_bytes(n: int, column: Fixed) -> list[bytes]:
    dtype, fill = column
    values = np.empty(n, dtype=dtype)
    fill(values)
    return _split(values.tobytes(), dtype.itemsize, n)


async def as_source(data: bytes) -> Any:
    """``data`` as the async iterable asyncpg's ``copy_to_table`` takes (bytes alone
    would be read as a file name)."""
    yield data
