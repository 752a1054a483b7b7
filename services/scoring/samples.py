"""What scoring reads of a ``telemetry.pack.v1`` payload, packed for the scorer.

A ``PackSample`` holds its ~250 readings as Python floats: a batch of 2,000
keeps half a million float objects alive until the pass ends, and building
the pass's arrays from them walks them all again. Scoring reads a batch with
ingestion's C column reader (:func:`schemas.json_columns.decode_columns`), which
reads every field as the contract's decoder does, and keeps per sample only
what the scorer uses, its arrays as float64 bytes. A payload the column reader
declines is decoded by msgspec into the fields scoring reads (and every field
the contract requires, with the contract's own types), so it fails here as it
fails :func:`schemas.messages.decode_pack_sample`, while the fields scoring
does not read are skipped unread there (ingestion validates and stores the
whole sample). The numbers are the same bits as ``PackSample``'s: both
parsers round correctly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.json_columns import ARRAYS, FLOATS, INTS, TIMES, decode_columns
from schemas.messages import SUPPORTED_SCHEMA_VERSIONS, Buffer, gc_paused
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


#: A payload the column reader declines: the fields scoring reads, by msgspec.
_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    wire_struct("ScoringWire", only=READ_FIELDS)
)
_SCALARS = ("pack_current_a", "coolant_inlet_c", "coolant_outlet_c", "ambient_c", "insulation_kohm")


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

    def __init__(
        self,
        vehicle_id: str,
        pack_id: str | None,
        ts_s: float,
        cells: bytes,
        n_cells: int,
        temps: bytes,
        n_temps: int,
        current_a: float,
        inlet_c: float,
        outlet_c: float,
        ambient_c: float,
        insulation_kohm: float,
    ) -> None:
        self.vehicle_id = vehicle_id
        self.pack_id = pack_id
        self.ts_s = ts_s
        self.cells = cells
        self.n_cells = n_cells
        self.temps = temps
        self.n_temps = n_temps
        self.current_a = current_a
        self.inlet_c = inlet_c
        self.outlet_c = outlet_c
        self.ambient_c = ambient_c
        self.insulation_kohm = insulation_kohm


def _nan(x: float | None) -> float:
    return _NAN if x is None else x


def _from_contract(data: Buffer) -> ScoringSample | None:
    """A payload the column reader declined, decoded by msgspec; None when it fails."""
    try:
        w = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
        return None
    if w.schema_version not in SUPPORTED_SCHEMA_VERSIONS or w.ts.utcoffset() is None:
        return None
    fv, ft = w.cell_voltages, w.cell_temps
    return ScoringSample(
        w.vehicle_id, w.pack_id, w.ts.timestamp(),
        double_packer(len(fv))(*fv), len(fv), double_packer(len(ft))(*ft), len(ft),
        w.pack_current_a, _nan(w.coolant_inlet_c), _nan(w.coolant_outlet_c), _nan(w.ambient_c),
        _nan(w.insulation_kohm),
    )  # fmt: skip


def decode_scoring_samples(payloads: Sequence[Buffer]) -> tuple[list[ScoringSample], int]:
    """Decode a batch of ``PackSample`` payloads for scoring; the samples, and how many failed.

    A payload fails as it would as a ``PackSample``: not JSON, a required or
    read field missing or of the wrong type, an unsupported schema version, or
    a ``ts`` without a UTC offset. The samples keep the payloads' order.
    """
    items = list(payloads)
    out: list[ScoringSample] = []
    failed = 0
    with gc_paused():
        d = decode_columns(items)
        ok = d.ok.tolist()
        version = d.ints[:, INTS.index("schema_version")].tolist()
        # One rounding, as datetime.timestamp() does (a float's µs lose bits past 2**53).
        ts_s = [us / 1_000_000 for us in d.times[:, TIMES.index("ts")].tolist()]
        current, inlet, outlet, ambient, insulation = (
            d.floats[:, FLOATS.index(name)].tolist() for name in _SCALARS
        )
        cv, ct = ARRAYS.index("cell_voltages"), ARRAYS.index("cell_temps")
        at, counts, values = d.offsets.tolist(), d.counts.tolist(), d.values
        vehicle_ids, pack_ids = d.texts["vehicle_id"], d.texts["pack_id"]
        for k, data in enumerate(items):
            if not ok[k]:
                s = _from_contract(data)
                if s is None:
                    failed += 1
                else:
                    out.append(s)
                continue
            if version[k] not in SUPPORTED_SCHEMA_VERSIONS:
                failed += 1
                continue
            (a, b), (n, m) = (at[k][cv], at[k][ct]), (counts[k][cv], counts[k][ct])
            out.append(ScoringSample(
                vehicle_ids[k], pack_ids[k], ts_s[k],
                values[a : a + n].tobytes(), n, values[b : b + m].tobytes(), m,
                current[k], inlet[k], outlet[k], ambient[k], insulation[k],
            ))  # fmt: skip
    return out, failed
