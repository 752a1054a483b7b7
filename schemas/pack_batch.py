"""A batch of ``telemetry.pack.v1`` payloads decoded and validated at once, into columns.

Ingestion validates every sample it stores, thousands a second; one sample at
a time the checks cost as much as the decoding. :func:`decode_and_validate_batch`
decodes each payload with the contract's types, its two arrays with the C
parser of :mod:`schemas.json_floats` (a whole batch of them at once, straight
into doubles), then checks the value
rules of each pack design over whole columns with numpy and returns the
accepted samples as :class:`SampleColumns`, one 2-D array per cell array and
one array per scalar field, ready for a columnar writer.

The column checks only *certify*: a payload they do not certify (one that does
not decode, comes from a vehicle without a design, or breaks any rule) is
handed to :func:`schemas.validation.decode_and_validate`, which is
authoritative. So every payload gets exactly the verdict, reason and detail
it gets on its own; the batch only makes the common case cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from schemas.errors import SampleRejected
from schemas.json_floats import keys_once, parse_arrays
from schemas.limits import (
    DEFAULT_MAX_FUTURE,
    DEFAULT_MAX_PAST,
    DEFAULT_MAX_PAYLOAD_BYTES,
    FAULT_CODE_MAX,
    ID_MAX_LEN,
    SEQ_MAX,
    PackLimits,
)
from schemas.messages import SUPPORTED_SCHEMA_VERSIONS, Buffer, gc_paused
from schemas.pack_sample import PackSample, wire_struct
from schemas.packing import float_rows
from schemas.sample_checks import SCALAR_FLOATS
from schemas.validation import decode_and_validate

#: Finds the limits of a vehicle's pack by vehicle id; None when it is unknown.
DesignOfVehicle = Callable[[str], PackLimits | None]

TEXT_FIELDS = ("vehicle_id", "pack_id")
TIME_FIELDS = ("ts", "received_at")
#: Integer fields; in :attr:`SampleColumns.ints` a None is -1 (every valid value is >= 0).
INT_FIELDS = (
    "seq",
    "cell_voltage_min_idx",
    "cell_voltage_max_idx",
    "cell_temp_min_idx",
    "cell_temp_max_idx",
    "contactor_state",
    "hvil_state",
    "charging_state",
)
ARRAY_FIELDS = ("cell_voltages", "cell_temps")
INT_LIST_FIELDS = ("fault_codes",)


#: The arrays' keys as they appear in a payload (see schemas.json_floats.keys_once).
_ARRAY_KEYS = tuple(f'"{name}"'.encode() for name in ARRAY_FIELDS)
#: PackSample with its two arrays left as JSON text for :mod:`schemas.json_floats`.
_wire_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    wire_struct("PackSampleWire", raw=ARRAY_FIELDS)
)


@dataclass
class SampleColumns:
    """Accepted samples of one pack design, field by field, in input order.

    ``positions`` are the samples' indices in the input batch. Float fields
    hold NaN where the sample has None (an accepted sample has no other NaN);
    integer fields hold -1 for None; ``arrays`` are 2-D, one row per sample.
    """

    positions: NDArray[np.intp]
    text: dict[str, list[Any]] = field(default_factory=dict)
    times: dict[str, list[Any]] = field(default_factory=dict)
    floats: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    ints: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    arrays: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    int_lists: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.positions)

    def take(self, rows: Sequence[int] | NDArray[np.intp]) -> SampleColumns:
        """The columns of ``rows`` only (indices into this object)."""
        idx = np.asarray(rows, dtype=np.intp)
        picked = idx.tolist()
        return SampleColumns(
            positions=self.positions[idx],
            text={k: [v[i] for i in picked] for k, v in self.text.items()},
            times={k: [v[i] for i in picked] for k, v in self.times.items()},
            floats={k: v[idx] for k, v in self.floats.items()},
            ints={k: v[idx] for k, v in self.ints.items()},
            arrays={k: v[idx] for k, v in self.arrays.items()},
            int_lists={k: [v[i] for i in picked] for k, v in self.int_lists.items()},
        )


@dataclass
class BatchVerdict:
    """What became of every payload: accepted columns, or a rejection by index."""

    accepted: list[SampleColumns]
    rejected: dict[int, SampleRejected]

    @property
    def accepted_count(self) -> int:
        return sum(len(c) for c in self.accepted)


def _table(samples: Sequence[PackSample], names: Sequence[str]) -> list[Any]:
    """Field values of ``samples``: a list per field (one field) or of tuples."""
    return list(map(attrgetter(*names), samples))


def columns_of(
    samples: Sequence[Any],
    positions: Sequence[int],
    arrays: dict[str, NDArray[np.float64]] | None = None,
) -> SampleColumns:
    """The columns of ``samples`` as they are (no checks); arrays must share a length.

    ``samples`` are PackSamples, or objects with the same fields whose arrays
    are given already parsed in ``arrays`` (one row per sample).
    """
    n = len(samples)
    # One conversion per kind of field, not per field: None becomes NaN.
    floats = np.array(_table(samples, SCALAR_FLOATS), dtype=np.float64).reshape(n, -1)
    small = np.array(_table(samples, INT_FIELDS[1:]), dtype=np.float64).reshape(n, -1)
    small = np.where(np.isnan(small), -1.0, small)  # indices and states: < 2**53
    seq = np.fromiter(_table(samples, ["seq"]), dtype=np.int64, count=n)

    def array(name: str) -> NDArray[np.float64]:
        rows = _table(samples, [name])
        return float_rows(rows, len(rows[0]) if rows else 0)

    return SampleColumns(
        positions=np.asarray(positions, dtype=np.intp),
        text={name: _table(samples, [name]) for name in TEXT_FIELDS},
        times={name: _table(samples, [name]) for name in TIME_FIELDS},
        floats={name: floats[:, j] for j, name in enumerate(SCALAR_FLOATS)},
        ints={"seq": seq}
        | {name: small[:, j].astype(np.int64) for j, name in enumerate(INT_FIELDS[1:])},
        arrays=arrays if arrays is not None else {name: array(name) for name in ARRAY_FIELDS},
        int_lists={name: _table(samples, [name]) for name in INT_LIST_FIELDS},
    )


def _id_ok(value: str | None) -> bool:
    return value is None or (0 < len(value) <= ID_MAX_LEN and value.strip() == value)


def _index_ok(value: int | None, n: int) -> bool:
    return value is None or 0 <= value < n


def _row_ok(
    s: Any, cells: int, sensors: int, d: PackLimits, earliest: datetime, latest: datetime
) -> bool:
    """The per-sample rules that are cheap in Python: identity, time, shapes, indices
    (``cells`` and ``sensors``: the lengths of the sample's arrays)."""
    n_cells, n_sensors = d.cells_in_series, d.temp_sensors
    codes = s.fault_codes
    return (
        s.schema_version in SUPPORTED_SCHEMA_VERSIONS
        and _id_ok(s.vehicle_id)
        and _id_ok(s.pack_id)
        and 0 <= s.seq <= SEQ_MAX
        and s.ts.utcoffset() is not None
        and (s.received_at is None or s.received_at.utcoffset() is not None)
        and earliest <= s.ts <= latest
        and cells == n_cells
        and sensors == n_sensors
        and _index_ok(s.cell_voltage_min_idx, n_cells)
        and _index_ok(s.cell_voltage_max_idx, n_cells)
        and _index_ok(s.cell_temp_min_idx, n_sensors)
        and _index_ok(s.cell_temp_max_idx, n_sensors)
        and len(codes) <= d.max_fault_codes
        and (not codes or (min(codes) >= 0 and max(codes) <= FAULT_CODE_MAX))
    )


def _ranges(d: PackLimits) -> list[tuple[str, float, float, bool]]:
    """(field, low, high, required) for every scalar float rule of design ``d``."""
    v_lo, v_hi, t_lo, t_hi = d.cell_voltage_min_v, d.cell_voltage_max_v, d.temp_min_c, d.temp_max_c
    temps = ("cell_temp_min_c", "cell_temp_max_c", "cell_temp_mean_c", "coolant_inlet_c",
             "coolant_outlet_c", "ambient_c")  # fmt: skip
    return [
        ("pack_voltage_v", d.pack_voltage_min_v, d.pack_voltage_ceiling_v, True),
        ("pack_current_a", -d.current_max_abs_a, d.current_max_abs_a, True),
        ("soc_pct", d.soc_min_pct, d.soc_max_pct, True),
        ("soh_pct", d.soh_min_pct, d.soh_max_pct, False),
        ("cell_voltage_min_v", v_lo, v_hi, False),
        ("cell_voltage_max_v", v_lo, v_hi, False),
        ("cell_voltage_mean_v", v_lo, v_hi, False),
        *((name, t_lo, t_hi, False) for name in temps),
        ("insulation_kohm", 0.0, d.insulation_max_kohm, False),
        ("speed_kmh", d.speed_min_kmh, d.speed_max_kmh, False),
        ("odometer_km", 0.0, d.odometer_max_km, False),
        ("latitude_deg", -90.0, 90.0, False),
        ("longitude_deg", -180.0, 180.0, False),
    ]


def _certified(cols: SampleColumns, d: PackLimits) -> NDArray[np.bool_]:
    """Rows of ``cols`` that pass every value and consistency rule of design ``d``."""
    f = cols.floats
    ok = np.ones(len(cols), dtype=bool)
    with np.errstate(invalid="ignore"):
        for name, lo, hi, required in _ranges(d):
            col = f[name]
            inside = (col >= lo) & (col <= hi)
            ok &= inside if required else (inside | np.isnan(col))
        for name, lo, hi in (
            ("cell_voltages", d.cell_voltage_min_v, d.cell_voltage_max_v),
            ("cell_temps", d.temp_min_c, d.temp_max_c),
        ):
            a = cols.arrays[name]
            ok &= ((a >= lo) & (a <= hi)).all(axis=1)
        # Summaries must not contradict themselves (a comparison with NaN,
        # i.e. an absent field, is False: absent fields pass, as in check_consistency).
        for prefix, unit in (("cell_voltage", "v"), ("cell_temp", "c")):
            lo_, hi_, mean = (f[f"{prefix}_{k}_{unit}"] for k in ("min", "max", "mean"))
            ok &= ~(lo_ > hi_) & ~(mean < lo_) & ~(mean > hi_)
    ok &= np.isnan(f["latitude_deg"]) == np.isnan(f["longitude_deg"])
    return ok


@dataclass
class _Group:
    """The decoded samples of one design, their batch positions, and where their
    arrays' values are in the parsed buffers."""

    samples: list[Any] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)  # index among the decoded samples


def _decode_into(
    payloads: Sequence[Buffer],
    design: DesignOfVehicle,
    earliest: datetime,
    latest: datetime,
    max_bytes: int,
    by_design: dict[PackLimits, _Group],
    uncertified: list[int],
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]]:
    """Decode each payload; group those passing the per-sample rules by design.

    Returns, per array field, the parsed values of every decoded sample and
    where each decoded sample's values start (see
    :func:`schemas.json_floats.parse_arrays`).
    """
    decode = _wire_decoder.decode
    wires: list[Any] = []
    where: list[int] = []
    for i, data in enumerate(payloads):
        if len(data) > max_bytes:
            uncertified.append(i)
            continue
        try:
            w = decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
            uncertified.append(i)
            continue
        wires.append(w)
        where.append(i)
    parsed = parse_raw_arrays(wires, [payloads[i] for i in where])
    cells = parsed["cell_voltages"][1].tolist()
    sensors = parsed["cell_temps"][1].tolist()
    for k, (w, i) in enumerate(zip(wires, where, strict=True)):
        d = design(w.vehicle_id)
        # An array the fast path cannot use (count -1) fails the shape rule: the
        # exact decoder decides.
        if d is None or not _row_ok(w, cells[k], sensors[k], d, earliest, latest):
            uncertified.append(i)
            continue
        group = by_design.get(d)
        if group is None:
            group = by_design[d] = _Group()
        group.samples.append(w)
        group.positions.append(i)
        group.slots.append(k)
    return {name: (values, offsets) for name, (values, _counts, offsets) in parsed.items()}


def parse_raw_arrays(
    wires: Sequence[Any], payloads: Sequence[Buffer]
) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]]:
    """The arrays of decoded wire structs (``ARRAY_FIELDS`` as ``msgspec.Raw``, from
    ``payloads`` in the same order), each field parsed in one batch by
    :func:`schemas.json_floats.parse_arrays`: (values, counts, offsets) per field.

    A count is -1 where the fast path cannot be used and the payload needs the
    contract's own decoder: the parser declined the array, or the payload
    repeats an array key (msgspec keeps the last copy of a Raw field unchecked,
    where the contract's decoder type-checks every copy).
    """
    parsed = {name: parse_arrays([getattr(w, name) for w in wires]) for name in ARRAY_FIELDS}
    repeated = [k for k, data in enumerate(payloads) if not keys_once(data, _ARRAY_KEYS)]
    if repeated:
        for _values, counts, _offsets in parsed.values():
            counts[repeated] = -1
    return parsed


def _rows(
    values: NDArray[np.float64], offsets: NDArray[np.int64], width: int
) -> NDArray[np.float64]:
    """Rows of ``width`` values starting at ``offsets``, as one (rows, width) array."""
    out: NDArray[np.float64] = values[offsets[:, None] + np.arange(width)]
    return out


def decode_and_validate_batch(
    payloads: Sequence[Buffer],
    *,
    design: DesignOfVehicle,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_past: timedelta = DEFAULT_MAX_PAST,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> BatchVerdict:
    """Decode and validate ``payloads``; the same verdict for each as one at a time.

    Equivalent to calling :func:`schemas.validation.decode_and_validate` on
    each payload (with ``design`` looked up by the sample's vehicle id):
    a payload it would accept is in ``accepted`` (its fields as decoded), one it
    would reject is in ``rejected`` under its index with the same
    :class:`SampleRejected`. Exceptions raised by ``design`` propagate.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    earliest, latest = now - max_past, now + max_future
    by_design: dict[PackLimits, _Group] = {}
    uncertified: list[int] = []
    with gc_paused():
        parsed = _decode_into(payloads, design, earliest, latest, max_bytes, by_design, uncertified)

    accepted: list[SampleColumns] = []
    for d, g in by_design.items():
        slots = np.array(g.slots, dtype=np.intp)
        widths = {"cell_voltages": d.cells_in_series, "cell_temps": d.temp_sensors}
        arrays = {
            name: _rows(values, offsets[slots], widths[name])
            for name, (values, offsets) in parsed.items()
        }
        cols = columns_of(g.samples, g.positions, arrays)
        ok = _certified(cols, d)
        if ok.all():
            accepted.append(cols)
            continue
        accepted.append(cols.take(np.flatnonzero(ok)))
        uncertified.extend(int(i) for i in cols.positions[~ok])

    def lookup(s: PackSample) -> PackLimits | None:
        return design(s.vehicle_id)

    rejected: dict[int, SampleRejected] = {}
    late: list[tuple[PackSample, int]] = []
    for i in sorted(uncertified):
        result = decode_and_validate(
            payloads[i], design=lookup, now=now, max_future=max_future,
            max_past=max_past, max_bytes=max_bytes,
        )  # fmt: skip
        if isinstance(result, SampleRejected):
            rejected[i] = result
        else:  # valid after all: the column checks are stricter than the rules
            late.append((result, i))
    for s, i in late:
        accepted.append(columns_of([s], [i]))
    return BatchVerdict([c for c in accepted if len(c)], rejected)
