"""A :class:`DecodedBatch` as ``PackSample`` v1 messages, or the reason a bundle cannot be one.

Everything that can be computed for the whole batch at once is (numpy over
the batch's rows): array lengths, gaps, min/max/mean/argmin/argmax, states,
fault codes, NaN → None. What is left per bundle is building the Struct.

Mapping (units are the DBC's, which are the PackSample's; the DBC's current
already follows VSS, positive = charging, so nothing is negated):

- ``pack_voltage_v`` ← ``HVESS_Voltage``; ``pack_current_a`` ← ``HVESS_Current``;
  ``soc_pct`` ← ``HVESS_FastSoC``; ``soh_pct`` ← ``HVESS_StateOfHealth``
  (sent every tenth second, so often None);
- ``cell_voltages`` / ``cell_temps`` ← the multiplexed arrays, trimmed after
  the highest index present: the DBC's arrays are wider than any pack, and
  the encoder fills a frame's unused slots with "not available";
- the summaries are computed from the arrays (first index of a tie, mean
  clamped into [min, max]), as :func:`schemas.pack_sample.with_cell_stats` does;
- ``coolant_inlet_c``, ``coolant_outlet_c``, ``ambient_c``, ``speed_kmh``,
  ``odometer_km``, ``latitude_deg``/``longitude_deg`` (both or neither);
- ``insulation_kohm`` ← ``Insulation_ResistanceSystem``, else the lower of
  the two sides;
- ``contactor_state`` from the two mains and the precharge relay,
  ``hvil_state``, ``charging_state``: the DBC's raw numbers are the enums'
  values; "not available" and values the enum lacks become None;
- ``fault_codes``: each active (SPN, FMI) as a J1939 DTC uint32.

A bundle becomes a dead letter when the decoder flagged it (its reason), when
a required signal (voltage, current, SoC) is missing (``missing_signal``),
when an array is empty or has a hole (``incomplete_array``: a lost CAN frame;
a PackSample cannot carry a missing cell), or when its timestamp cannot be a
datetime (``bad_timestamp``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from schemas.common import ChargingState, ContactorState, HvilState, at_micros, micros
from schemas.pack_sample import PackSample
from services.decoder.vectorized import DecodedBatch

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

# datetime's own range, in µs since the epoch (years 1 … 9999).
_TS_MIN_US = micros(datetime(1, 1, 1, tzinfo=UTC))
_TS_MAX_US = micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))

REQUIRED = {
    "pack_voltage_v": "HVESS_Voltage",
    "pack_current_a": "HVESS_Current",
    "soc_pct": "HVESS_FastSoC",
}
OPTIONAL = {
    "soh_pct": "HVESS_StateOfHealth",
    "coolant_inlet_c": "HVESS_CoolantInletTemp",
    "coolant_outlet_c": "HVESS_CoolantOutletTemp",
    "ambient_c": "AmbientAirTemp",
    "speed_kmh": "WheelBasedVehicleSpeed",
    "odometer_km": "HiResTotalVehicleDistance",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """Bundle ``index`` of the batch cannot become a PackSample."""

    index: int
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Converted:
    """The outcome of one batch: samples and rejects, each with its bundle index."""

    samples: list[tuple[int, PackSample]]
    rejected: list[Rejected]


@dataclass(frozen=True, slots=True)
class ArrayView:
    """One multiplexed array of the batch with its per-row length and summary."""

    values: F64
    count: I64  # highest index present + 1 (0 when none)
    missing: I64  # NaN elements below count
    lo: F64
    hi: F64
    mean: F64
    argmin: I64
    argmax: I64

    @classmethod
    def of(cls, values: F64) -> ArrayView:
        """Lengths and statistics for every row at once (NaN past the length is ignored)."""
        present = ~np.isnan(values)
        width = values.shape[1]
        any_present = present.any(axis=1)
        count = np.where(any_present, width - np.argmax(present[:, ::-1], axis=1), 0)
        missing = count - present.sum(axis=1)
        lo_in = np.where(present, values, np.inf)
        hi_in = np.where(present, values, -np.inf)
        argmin = lo_in.argmin(axis=1)  # numpy returns the first index of a tie
        argmax = hi_in.argmax(axis=1)
        rows = np.arange(values.shape[0])
        lo, hi = lo_in[rows, argmin], hi_in[rows, argmax]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(present, values, 0.0).sum(axis=1) / count
        # Summation order can put the mean of equal values one ulp outside.
        mean = np.minimum(np.maximum(mean, lo), hi)
        return cls(values, count, missing, lo, hi, mean, argmin, argmax)

    def problem(self, i: int, name: str) -> str | None:
        """Why row ``i`` cannot be a PackSample array, or None."""
        if self.count[i] == 0:
            return f"{name}: none present"
        if self.missing[i]:
            first = int(np.flatnonzero(np.isnan(self.values[i, : self.count[i]]))[0])
            return f"{name}: {self.missing[i]} of {self.count[i]} missing (first at {first})"
        return None


def optional(a: F64) -> list[float | None]:
    """Floats with NaN as None, for a whole column at once."""
    out = a.astype(object)
    out[np.isnan(a)] = None
    return out.tolist()  # type: ignore[no-any-return]


def _enum_column(codes: F64, members: Sequence[Any]) -> list[Any]:
    """Raw DBC values → enum members; not available, NaN and unknown values → None."""
    table: list[Any] = [None] * 17
    for m in members:
        table[int(m)] = m
    idx = np.where(np.isnan(codes), 16, np.clip(np.nan_to_num(codes), 0, 16)).astype(np.int64)
    return [table[i] for i in idx.tolist()]


def contactor_codes(pos: F64, neg: F64, pre: F64) -> F64:
    """ContactorState values from HVESSS1's relays (0 open, 1 closed, 2 error, 3 n/a).

    Both mains closed → CLOSED; any relay in error → ERROR; the precharge relay
    closed with the mains not both closed → PRECHARGING; otherwise OPEN. An
    unknown main (not available, or its frame missing) → None (NaN here).
    """
    out = np.full(pos.shape, float(ContactorState.OPEN))
    out[(pre == 1) & ~((pos == 1) & (neg == 1))] = float(ContactorState.PRECHARGING)
    out[(pos == 1) & (neg == 1)] = float(ContactorState.CLOSED)
    out[(pos == 2) | (neg == 2) | (pre == 2)] = float(ContactorState.ERROR)
    unknown = np.isnan(pos) | np.isnan(neg) | (pos == 3) | (neg == 3)
    out[unknown] = np.nan
    return out


def fault_codes(batch: DecodedBatch) -> list[list[int]]:
    """Active faults per bundle as J1939 DTCs (DM1 bytes 0-2: SPN low 16, FMI, SPN high 3)."""
    spn, fmi = batch.arrays["Fault_Spn"], batch.arrays["Fault_Fmi"]
    active = np.nan_to_num(batch.scalars["Fault_ActiveCount"], nan=0.0)
    slot = np.arange(spn.shape[1])[None, :]
    valid = (slot < active[:, None]) & ~np.isnan(spn) & ~np.isnan(fmi)
    s = np.nan_to_num(spn).astype(np.int64)
    f = np.nan_to_num(fmi).astype(np.int64)
    dtc = (s & 0xFFFF) | (((s >> 16) & 0x7) << 21) | ((f & 0x1F) << 16)
    rows_with = valid.any(axis=1)
    out: list[list[int]] = [[] for _ in range(batch.n)]
    for i in np.flatnonzero(rows_with).tolist():
        out[i] = dtc[i][valid[i]].tolist()
    return out


def _reject_reasons(batch: DecodedBatch, cells: ArrayView, temps: ArrayView) -> list[Rejected]:
    sc = batch.scalars
    missing_any = np.zeros(batch.n, dtype=bool)
    for signal in REQUIRED.values():
        missing_any |= np.isnan(sc[signal])
    bad_ts = (batch.ts_us < _TS_MIN_US) | (batch.ts_us > _TS_MAX_US)
    suspect = (
        batch.bad | missing_any | bad_ts | (cells.count == 0) | (temps.count == 0)
        | (cells.missing > 0) | (temps.missing > 0)
    )  # fmt: skip
    out: list[Rejected] = []
    for i in np.flatnonzero(suspect).tolist():
        if batch.bad[i]:
            reason = batch.reasons[i] or "bad_bundle"
            word, _, group = reason.partition(":")
            out.append(Rejected(i, word, f"dlc does not match group {group}" if group else reason))
        elif bad_ts[i]:
            out.append(Rejected(i, "bad_timestamp", f"ts_us {int(batch.ts_us[i])}"))
        elif missing_any[i]:
            names = [s for s in REQUIRED.values() if np.isnan(sc[s][i])]
            out.append(Rejected(i, "missing_signal", "not available: " + ", ".join(names)))
        else:
            why = cells.problem(i, "cell_voltages") or temps.problem(i, "cell_temps")
            out.append(Rejected(i, "incomplete_array", why or ""))
    return out


def _columns(batch: DecodedBatch, cells: ArrayView, temps: ArrayView) -> dict[str, list[Any]]:
    """Every per-bundle field except identity and arrays, one Python list per field."""
    sc = batch.scalars
    cols: dict[str, list[Any]] = {f: sc[s].tolist() for f, s in REQUIRED.items()}
    cols.update({f: optional(sc[s]) for f, s in OPTIONAL.items()})
    insulation = np.where(
        np.isnan(sc["Insulation_ResistanceSystem"]),
        np.fmin(sc["Insulation_ResistancePos"], sc["Insulation_ResistanceNeg"]),
        sc["Insulation_ResistanceSystem"],
    )
    cols["insulation_kohm"] = optional(insulation)
    no_fix = np.isnan(sc["Latitude"]) | np.isnan(sc["Longitude"])
    cols["latitude_deg"] = optional(np.where(no_fix, np.nan, sc["Latitude"]))
    cols["longitude_deg"] = optional(np.where(no_fix, np.nan, sc["Longitude"]))
    cols["contactor_state"] = _enum_column(
        contactor_codes(
            sc["HVESS_PosContactorState"], sc["HVESS_NegContactorState"],
            sc["HVESS_PrechargeState"],
        ),
        list(ContactorState),
    )  # fmt: skip
    cols["hvil_state"] = _enum_column(sc["HVESS_HvilStatus"], list(HvilState))
    cols["charging_state"] = _enum_column(sc["ChargingState"], list(ChargingState))
    for prefix, view in (("cell_voltage", cells), ("cell_temp", temps)):
        unit = "_v" if prefix == "cell_voltage" else "_c"
        cols[f"{prefix}_min{unit}"] = view.lo.tolist()
        cols[f"{prefix}_max{unit}"] = view.hi.tolist()
        cols[f"{prefix}_mean{unit}"] = view.mean.tolist()
        cols[f"{prefix}_min_idx"] = view.argmin.tolist()
        cols[f"{prefix}_max_idx"] = view.argmax.tolist()
    cols["fault_codes"] = fault_codes(batch)
    return cols


def to_samples(
    batch: DecodedBatch, received_at_ms: Sequence[int | None] | None = None
) -> Converted:
    """Turn every bundle of ``batch`` into a PackSample, or say why it cannot be one.

    ``received_at_ms`` (Kafka record timestamps, ms since the epoch) becomes
    each sample's ``received_at``; None leaves it unset.
    """
    cells = ArrayView.of(batch.cell_voltages)
    temps = ArrayView.of(batch.temperatures)
    rejected = _reject_reasons(batch, cells, temps)
    skip = {r.index for r in rejected}
    c = _columns(batch, cells, temps)
    ts_us, seq = batch.ts_us.tolist(), batch.seq.tolist()
    ncell, ntemp = cells.count.tolist(), temps.count.tolist()
    received = received_at_ms or [None] * batch.n
    cv, ct = batch.cell_voltages, batch.temperatures

    samples: list[tuple[int, PackSample]] = []
    # Explicit keywords: the one per-bundle Python step, kept free of dict building.
    for i in range(batch.n):
        if i in skip:
            continue
        ms = received[i]
        samples.append((i, PackSample(
            vehicle_id=batch.vehicle_ids[i],
            ts=at_micros(ts_us[i]),
            seq=seq[i],
            received_at=None if ms is None else at_micros(ms * 1000),
            pack_voltage_v=c["pack_voltage_v"][i],
            pack_current_a=c["pack_current_a"][i],
            soc_pct=c["soc_pct"][i],
            soh_pct=c["soh_pct"][i],
            cell_voltages=cv[i, : ncell[i]].tolist(),
            cell_temps=ct[i, : ntemp[i]].tolist(),
            cell_voltage_min_v=c["cell_voltage_min_v"][i],
            cell_voltage_max_v=c["cell_voltage_max_v"][i],
            cell_voltage_mean_v=c["cell_voltage_mean_v"][i],
            cell_voltage_min_idx=c["cell_voltage_min_idx"][i],
            cell_voltage_max_idx=c["cell_voltage_max_idx"][i],
            cell_temp_min_c=c["cell_temp_min_c"][i],
            cell_temp_max_c=c["cell_temp_max_c"][i],
            cell_temp_mean_c=c["cell_temp_mean_c"][i],
            cell_temp_min_idx=c["cell_temp_min_idx"][i],
            cell_temp_max_idx=c["cell_temp_max_idx"][i],
            coolant_inlet_c=c["coolant_inlet_c"][i],
            coolant_outlet_c=c["coolant_outlet_c"][i],
            ambient_c=c["ambient_c"][i],
            insulation_kohm=c["insulation_kohm"][i],
            contactor_state=c["contactor_state"][i],
            hvil_state=c["hvil_state"][i],
            charging_state=c["charging_state"][i],
            fault_codes=c["fault_codes"][i],
            speed_kmh=c["speed_kmh"][i],
            odometer_km=c["odometer_km"][i],
            latitude_deg=c["latitude_deg"][i],
            longitude_deg=c["longitude_deg"][i],
        )))  # fmt: skip
    return Converted(samples, rejected)
