"""What scoring reads of a ``telemetry.pack.v1`` payload, decoded straight into packed arrays.

A ``PackSample`` holds its ~250 readings as Python floats: a batch of 2,000
keeps half a million float objects alive until the pass ends, and building
the pass's arrays from them walks them all again. Scoring decodes each
payload into the fields it reads (and every field the contract requires, with
the contract's own types, so a payload without them fails here as it fails
:func:`schemas.messages.decode_pack_sample`); the two arrays stay JSON text
until the C parser of :mod:`schemas.json_floats` reads a whole batch of them
into doubles, and an array it declines is read by msgspec as before. The other
fields are skipped unread (ingestion validates and stores the whole sample).
The numbers are the same bits as ``PackSample``'s: both parsers round
correctly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.json_columns import ARRAYS
from schemas.messages import SUPPORTED_SCHEMA_VERSIONS, Buffer, gc_paused
from schemas.pack_batch import parse_raw_arrays
from schemas.pack_sample import wire_struct
from schemas.packing import double_packer

#: The PackSample fields scoring reads, beside the contract's required ones.
READ_FIELDS = (
    "schema_version",
    "vehicle_id",
    "pack_id",
    "ts",
    "pack_current_a",
    "cell_voltages",
    "cell_temps",
    "coolant_inlet_c",
    "coolant_outlet_c",
    "ambient_c",
    "insulation_kohm",
)


#: Arrays left as text for the C parser (schemas/json_floats.py) ...
_raw_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    wire_struct("ScoringWire", raw=ARRAYS, only=READ_FIELDS)
)
#: ... and, for a payload whose arrays it declines, every number parsed by msgspec.
_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    wire_struct("ScoringWireFull", only=READ_FIELDS)
)


_NAN = math.nan


class ScoringSample:
    """One bus-second as scoring reads it: arrays packed as float64 bytes, None as NaN."""

    __slots__ = (
        "vehicle_id",
        "pack_id",
        "ts_s",
        "current_a",
        "cells",
        "n_cells",
        "temps",
        "n_temps",
        "inlet_c",
        "outlet_c",
        "ambient_c",
        "insulation_kohm",
    )

    def __init__(self, w: Any, cells: bytes, n_cells: int, temps: bytes, n_temps: int) -> None:
        # Attribute by attribute: a helper call per optional field costs more than the test.
        self.vehicle_id: str = w.vehicle_id
        self.pack_id: str | None = w.pack_id
        self.ts_s: float = w.ts.timestamp()
        self.current_a: float = w.pack_current_a
        self.cells: bytes = cells
        self.n_cells: int = n_cells
        self.temps: bytes = temps
        self.n_temps: int = n_temps
        x = w.coolant_inlet_c
        self.inlet_c: float = _NAN if x is None else x
        x = w.coolant_outlet_c
        self.outlet_c: float = _NAN if x is None else x
        x = w.ambient_c
        self.ambient_c: float = _NAN if x is None else x
        x = w.insulation_kohm
        self.insulation_kohm: float = _NAN if x is None else x


def decode_scoring_samples(payloads: Sequence[Buffer]) -> tuple[list[ScoringSample], int]:
    """Decode a batch of ``PackSample`` payloads for scoring; the samples, and how many failed.

    A payload fails as it would as a ``PackSample``: not JSON, a required or
    read field missing or of the wrong type, an unsupported schema version, or
    a ``ts`` without a UTC offset.
    """
    failed = 0
    wires: list[tuple[Any, Buffer]] = []
    with gc_paused():
        for data in payloads:
            try:
                w = _raw_decoder.decode(data)
            except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
                failed += 1
                continue
            if w.schema_version not in SUPPORTED_SCHEMA_VERSIONS or w.ts.utcoffset() is None:
                failed += 1
                continue
            wires.append((w, data))
        parsed = parse_raw_arrays([w for w, _ in wires], [data for _, data in wires])
        cv, cv_n, cv_at = parsed["cell_voltages"]
        ct, ct_n, ct_at = parsed["cell_temps"]
        out: list[ScoringSample] = []
        for k, (w, data) in enumerate(wires):
            nc, nt = int(cv_n[k]), int(ct_n[k])
            if nc >= 0 and nt >= 0:
                a, b = int(cv_at[k]), int(ct_at[k])
                out.append(
                    ScoringSample(w, cv[a : a + nc].tobytes(), nc, ct[b : b + nt].tobytes(), nt)
                )
                continue
            try:  # arrays the fast path cannot use: msgspec decides, number by number
                full = _decoder.decode(data)
            except (msgspec.DecodeError, UnicodeDecodeError):
                failed += 1
                continue
            fv, ft = full.cell_voltages, full.cell_temps
            out.append(ScoringSample(
                full, double_packer(len(fv))(*fv), len(fv), double_packer(len(ft))(*ft), len(ft)
            ))  # fmt: skip
    return out, failed
