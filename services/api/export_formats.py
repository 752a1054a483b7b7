"""CSV and Parquet encoders that turn chunks of rows into chunks of bytes.

Each encoder holds at most one chunk: the caller feeds rows as a server-side
cursor yields them and sends the bytes on, so an export of any length never
sits whole in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import BigInteger, SmallInteger
from sqlalchemy.dialects.postgresql import REAL

from schemas.db.tables import pack_samples

CELL_COLUMNS = ("cell_voltages", "cell_temps")


def _arrow_type(column: str) -> pa.DataType:
    if column == "ts":
        return pa.timestamp("us", tz="UTC")
    if column in CELL_COLUMNS:
        return pa.list_(pa.float32())
    t = pack_samples.c[column].type
    if isinstance(t, SmallInteger):
        return pa.int16()
    if isinstance(t, BigInteger):
        return pa.int64()
    if isinstance(t, REAL):
        return pa.float32()
    return pa.float64()


class CsvEncoder:
    """Header first, then rows; cell arrays as JSON arrays in one field."""

    media_type = "text/csv"

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def header(self) -> bytes:
        return self._encode([self.columns])

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        out = []
        for row in rows:
            out.append(
                [
                    v.isoformat()
                    if c == "ts"
                    else json.dumps(list(v))
                    if c in CELL_COLUMNS and v is not None
                    else v
                    for c, v in zip(self.columns, row, strict=True)
                ]
            )
        return self._encode(out)

    def close(self) -> bytes:
        return b""

    @staticmethod
    def _encode(rows: list[list[Any]]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue().encode()


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out after every row group."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class ParquetEncoder:
    """One row group per chunk, written through as soon as it is encoded."""

    media_type = "application/vnd.apache.parquet"

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.schema = pa.schema([(c, _arrow_type(c)) for c in self.columns])
        self._sink = _Drain()
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")

    def header(self) -> bytes:
        return self._sink.take()

    def chunk(self, rows: Sequence[Sequence[Any]]) -> bytes:
        arrays = [
            pa.array([row[i] for row in rows], type=self.schema.field(i).type)
            for i in range(len(self.columns))
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        return self._sink.take()

    def close(self) -> bytes:
        self._writer.close()
        return self._sink.take()
