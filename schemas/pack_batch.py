"""A batch of ``telemetry.pack.v1`` payloads decoded and validated at once, into columns.

Ingestion validates every sample it stores, thousands a second; one sample at
a time the checks cost as much as the decoding. :func:`decode_and_validate_batch`
reads the whole batch into columns in C (:mod:`schemas.json_columns`), then
checks the rules of each pack design over whole columns with numpy and returns
the accepted samples as :class:`SampleColumns`, one 2-D array per cell array
and one array per scalar field, ready for a columnar writer.

The column checks only *certify*: a payload they do not certify (one the C
reader declines, one from a vehicle without a design, one that breaks any rule) is
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

import numpy as np
from numpy.typing import NDArray

from schemas.common import micros
from schemas.errors import SampleRejected
from schemas.json_columns import (
    ARRAYS,
    FLOATS,
    INT_LISTS,
    INTS,
    TEXTS,
    TIMES,
    Decoded,
    decode_columns,
    to_micros,
)
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
from schemas.pack_sample import PackSample
from schemas.packing import float_rows
from schemas.validation import decode_and_validate

#: Finds the limits of a vehicle's pack by vehicle id; None when it is unknown.
DesignOfVehicle = Callable[[str], PackLimits | None]

# SampleColumns holds the fields by kind as schemas.json_columns reads them from
# PackSample (TEXTS, TIMES, ARRAYS, INT_LISTS), bar the schema version, which is
# checked, not stored.
#: Integer fields; in :attr:`SampleColumns.ints` a None is -1 (every valid value is >= 0).
INT_FIELDS = tuple(name for name in INTS if name != "schema_version")
#: The integer fields but ``seq`` (a 64-bit counter): indices and states, < 2**53.
_SMALL_INTS = tuple(name for name in INT_FIELDS if name != "seq")


@dataclass
class SampleColumns:
    """Accepted samples of one pack design, field by field, in input order.

    ``positions`` are the samples' indices in the input batch. Float fields
    hold NaN where the sample has None (an accepted sample has no other NaN);
    integer fields hold -1 for None; ``times`` are microseconds since 1970 UTC
    (:data:`schemas.json_columns.TIME_NULL` for None); ``arrays`` are 2-D, one row
    per sample.
    """

    positions: NDArray[np.intp]
    text: dict[str, list[Any]] = field(default_factory=dict)
    times: dict[str, NDArray[np.int64]] = field(default_factory=dict)
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
            times={k: v[idx] for k, v in self.times.items()},
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


def columns_of(samples: Sequence[PackSample], positions: Sequence[int]) -> SampleColumns:
    """The columns of ``samples`` as they are (no checks); arrays must share a length."""
    n = len(samples)
    # One conversion per kind of field, not per field: None becomes NaN.
    floats = np.array(_table(samples, FLOATS), dtype=np.float64).reshape(n, -1)
    small = np.array(_table(samples, _SMALL_INTS), dtype=np.float64).reshape(n, -1)
    small = np.where(np.isnan(small), -1.0, small)
    seq = np.fromiter(_table(samples, ["seq"]), dtype=np.int64, count=n)

    def array(name: str) -> NDArray[np.float64]:
        rows = _table(samples, [name])
        return float_rows(rows, len(rows[0]) if rows else 0)

    return SampleColumns(
        positions=np.asarray(positions, dtype=np.intp),
        text={name: _table(samples, [name]) for name in TEXTS},
        times={name: to_micros(_table(samples, [name])) for name in TIMES},
        floats={name: floats[:, j] for j, name in enumerate(FLOATS)},
        ints={"seq": seq}
        | {name: small[:, j].astype(np.int64) for j, name in enumerate(_SMALL_INTS)},
        arrays={name: array(name) for name in ARRAYS},
        int_lists={name: _table(samples, [name]) for name in INT_LISTS},
    )


def _id_ok(value: str | None) -> bool:
    return value is None or (0 < len(value) <= ID_MAX_LEN and value.strip() == value)


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


def _design_groups(
    dec: Decoded, design: DesignOfVehicle, uncertified: list[int]
) -> dict[PackLimits, list[int]]:
    """Rows ``dec`` took, by design; the others (declined, an id the rules refuse, a
    vehicle without a design) go to ``uncertified``."""
    groups: dict[PackLimits, list[int]] = {}
    ids, packs = dec.texts["vehicle_id"], dec.texts["pack_id"]
    for k, ok in enumerate(dec.ok.tolist()):
        d = design(ids[k]) if ok and _id_ok(ids[k]) and _id_ok(packs[k]) else None
        if d is None:
            uncertified.append(k)
            continue
        groups.setdefault(d, []).append(k)
    return groups


def _rules_ok(
    dec: Decoded, rows: NDArray[np.intp], d: PackLimits, earliest: int, latest: int
) -> NDArray[np.bool_]:
    """The per-sample rules of identity, time, shape and indices over ``rows`` of
    ``dec`` at once (times in microseconds since 1970; every time ``dec`` takes is
    aware, and it declines negative integers)."""
    ints, i = dec.ints[rows], INTS.index
    ts = dec.times[rows, TIMES.index("ts")]
    counts = dec.counts[rows]
    ok = np.isin(ints[:, i("schema_version")], list(SUPPORTED_SCHEMA_VERSIONS))
    ok &= (ts >= earliest) & (ts <= latest) & (ints[:, i("seq")] <= SEQ_MAX)
    ok &= counts[:, ARRAYS.index("cell_voltages")] == d.cells_in_series
    ok &= counts[:, ARRAYS.index("cell_temps")] == d.temp_sensors
    for name, n in (
        ("cell_voltage_min_idx", d.cells_in_series),
        ("cell_voltage_max_idx", d.cells_in_series),
        ("cell_temp_min_idx", d.temp_sensors),
        ("cell_temp_max_idx", d.temp_sensors),
    ):
        ok &= ints[:, i(name)] < n  # -1 is None; a negative index is declined
    codes = dec.int_lists["fault_codes"]
    for j, k in enumerate(rows.tolist()):
        c = codes[k]
        if c and (len(c) > d.max_fault_codes or max(c) > FAULT_CODE_MAX):
            ok[j] = False  # a negative code is declined
    return ok


def _columns(dec: Decoded, rows: NDArray[np.intp], d: PackLimits) -> SampleColumns:
    """``rows`` of ``dec`` (all of design ``d``) as columns."""
    picked = rows.tolist()
    floats, ints, times = dec.floats[rows], dec.ints[rows], dec.times[rows]
    widths = {"cell_voltages": d.cells_in_series, "cell_temps": d.temp_sensors}
    return SampleColumns(
        positions=rows,
        text={name: [dec.texts[name][k] for k in picked] for name in TEXTS},
        times={name: times[:, j] for j, name in enumerate(TIMES)},
        floats={name: floats[:, j] for j, name in enumerate(FLOATS)},
        ints={name: ints[:, INTS.index(name)] for name in INT_FIELDS},
        arrays={
            name: _rows(dec.values, dec.offsets[rows, ARRAYS.index(name)], widths[name])
            for name in ARRAYS
        },
        int_lists={name: [dec.int_lists[name][k] for k in picked] for name in INT_LISTS},
    )


def _rows(
    values: NDArray[np.float64], offsets: NDArray[np.int64], width: int
) -> NDArray[np.float64]:
    """Rows of ``width`` values starting at ``offsets``, as one (rows, width) array.

    Payloads read one after another leave their arrays evenly spaced in
    ``values``: then the rows are a read-only strided view of it, not a copy.
    """
    n = len(offsets)
    step = int(offsets[1] - offsets[0]) if n > 1 else width
    if n and step >= width and (n == 1 or bool((np.diff(offsets) == step).all())):
        view: NDArray[np.float64] = np.lib.stride_tricks.as_strided(
            values[int(offsets[0]) :],
            shape=(n, width),
            strides=(step * values.itemsize, values.itemsize),
            writeable=False,
        )
        return view
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
    uncertified: list[int] = []  # an oversized payload is read as b"", which is declined
    with gc_paused():
        dec = decode_columns([b"" if len(data) > max_bytes else data for data in payloads])
    window = (micros(earliest), micros(latest))
    accepted: list[SampleColumns] = []
    for d, rows in _design_groups(dec, design, uncertified).items():
        idx = np.array(rows, dtype=np.intp)
        ok = _rules_ok(dec, idx, d, *window)
        cols = _columns(dec, idx[ok], d)
        good = _certified(cols, d)
        accepted.append(cols if good.all() else cols.take(np.flatnonzero(good)))
        uncertified.extend(idx[~ok].tolist())
        uncertified.extend(cols.positions[~good].tolist())

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
    # Accepted by the contract's decoder: one group per shape, as the others.
    shapes: dict[tuple[int, int], list[tuple[PackSample, int]]] = {}
    for s, i in late:
        shapes.setdefault((len(s.cell_voltages), len(s.cell_temps)), []).append((s, i))
    for group in shapes.values():
        accepted.append(columns_of([s for s, _ in group], [i for _, i in group]))
    return BatchVerdict([c for c in accepted if len(c)], rejected)
