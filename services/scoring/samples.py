"""What scoring reads of a ``telemetry.pack.v1`` payload, decoded straight into packed arrays.

A ``PackSample`` holds its ~250 readings as Python floats: a batch of 2,000
keeps half a million float objects alive until the pass ends, and building
the pass's arrays from them walks them all again. Scoring decodes each
payload into the fields it reads (and every field the contract requires, with
the contract's own types, so a payload without them fails here as it fails
:func:`schemas.messages.decode_pack_sample`) and packs the two arrays into
doubles at once, while their floats are still in the cache; the other fields
are skipped unread (ingestion validates and stores the whole sample). The
numbers are the same bits as ``PackSample``'s: the same parser reads them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, get_type_hints

import msgspec

from schemas.messages import SUPPORTED_SCHEMA_VERSIONS, Buffer, gc_paused
from schemas.pack_sample import PackSample
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


def _wire_type() -> type[msgspec.Struct]:
    hints = get_type_hints(PackSample, include_extras=True)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(PackSample):
        if f.name in READ_FIELDS or f.required:
            fields.append(
                (f.name, hints[f.name]) if f.required else (f.name, hints[f.name], f.default)
            )
    return msgspec.defstruct("ScoringWire", fields, kw_only=True, gc=False)


_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_wire_type())


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

    def __init__(self, w: Any) -> None:
        # Attribute by attribute: a helper call per optional field costs more than the test.
        cv, ct = w.cell_voltages, w.cell_temps
        nc, nt = len(cv), len(ct)
        self.vehicle_id: str = w.vehicle_id
        self.pack_id: str | None = w.pack_id
        self.ts_s: float = w.ts.timestamp()
        self.current_a: float = w.pack_current_a
        self.cells: bytes = double_packer(nc)(*cv)
        self.n_cells: int = nc
        self.temps: bytes = double_packer(nt)(*ct)
        self.n_temps: int = nt
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
    out: list[ScoringSample] = []
    failed = 0
    decode = _decoder.decode
    with gc_paused():
        for data in payloads:
            try:
                w = decode(data)
            except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
                failed += 1
                continue
            if w.schema_version not in SUPPORTED_SCHEMA_VERSIONS or w.ts.utcoffset() is None:
                failed += 1
                continue
            out.append(ScoringSample(w))
    return out, failed
