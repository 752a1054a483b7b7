"""Readings → CAN frames → bundle payloads, vectorised over buses, exactly as the DBC says.

``schemas.can.bundle.encode_signals`` (cantools) is the reference encoder; it
costs a few milliseconds per bus-second, too slow for a fleet. Here the same
table (:func:`schemas.can.signals.message_table`) compiles to shifts and masks
over uint64 frame data, one numpy expression per signal for all buses at once:
raw = round-half-even((value - offset) / scale), saturated at the signal's
range, not-available (all ones) for NaN, unused bits ones, as cantools does.
A unit test checks byte equality with ``encode_signals``.

The history group (HVESSHIST) goes out every 10th second, as its DBC cycle
time says; everything else every second.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from schemas.can.bundle import FRAME_SIZE, MAGIC, VERSION, CanBundle, Frame
from schemas.can.signals import (
    CELLS_PER_FRAME,
    SENSORS_PER_FRAME,
    MessageDef,
    SignalDef,
    message_table,
)
from services.simulator.readings import Readings

F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]

RECORD = np.dtype([("id", "<u4"), ("dlc", "u1"), ("data", "<u8")])
assert RECORD.itemsize == FRAME_SIZE
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_TAIL = struct.Struct("<qIH")
HISTORY_EVERY = 10


@dataclass(frozen=True)
class _Sig:
    name: str
    start: int
    length: int
    scale: float
    offset: float
    raw_min: int
    raw_max: int
    signed: bool

    @classmethod
    def of(cls, s: SignalDef) -> _Sig:
        return cls(s.name, s.start, s.length, s.scale, s.offset, s.raw_min, s.raw_max, s.signed)

    def raw(self, values: F64) -> U64:
        """Raw field bits for physical ``values`` (NaN → all ones = not available)."""
        v = np.asarray(values, dtype=np.float64)
        nan = np.isnan(v)
        r = np.clip(
            np.rint((np.where(nan, self.offset, v) - self.offset) / self.scale),
            self.raw_min,
            self.raw_max,
        ).astype(np.int64)
        mask = (1 << self.length) - 1
        r = np.where(nan, mask, r & mask)
        return r.astype(np.uint64)

    def quantise(self, values: F64) -> F64:
        """What a decoder would read back: the value at DBC resolution (NaN stays NaN)."""
        v = np.asarray(values, dtype=np.float64)
        r = np.clip(np.rint((v - self.offset) / self.scale), self.raw_min, self.raw_max)
        out: F64 = r * self.scale + self.offset
        return out

    def put(self, data: U64, values: F64) -> U64:
        field = np.uint64(((1 << self.length) - 1) << self.start)
        out: U64 = (data & ~field) | (self.raw(values) << np.uint64(self.start))
        return out


@cache
def _table() -> dict[str, MessageDef]:
    return {m.name: m for m in message_table()}


@cache
def signal(name: str) -> _Sig:
    """The compiled definition of one DBC signal by name."""
    for m in message_table():
        for s in m.signals:
            if s.name == name:
                return _Sig.of(s)
    raise KeyError(name)


def quantise(name: str, values: F64) -> F64:
    """``values`` at the resolution and range of DBC signal ``name``."""
    return signal(name).quantise(values)


def scalar_state(r: Readings) -> dict[str, F64]:
    """Physical values per DBC signal name for every non-multiplexed signal."""
    closed = r.contactor_closed.astype(np.float64)
    chg = (r.charger_status == 2).astype(np.float64)
    cv, ct = r.cell_voltages, r.cell_temps
    return {
        "HVESS_Voltage": r.pack_voltage_v,
        "HVESS_Current": r.pack_current_a,
        "HVESS_AvailDischargePower": r.avail_discharge_kw,
        "HVESS_AvailChargePower": r.avail_charge_kw,
        "HVESS_FastSoC": r.soc_pct,
        "HVESS_HighestCellVoltage": cv.max(axis=1),
        "HVESS_LowestCellVoltage": cv.min(axis=1),
        "HVESS_HighestCellVoltageIndex": cv.argmax(axis=1).astype(np.float64),
        "HVESS_LowestCellVoltageIndex": cv.argmin(axis=1).astype(np.float64),
        "HVESS_HighestCellTemp": ct.max(axis=1),
        "HVESS_LowestCellTemp": ct.min(axis=1),
        "HVESS_AverageCellTemp": ct.mean(axis=1),
        "HVESS_HighestCellTempIndex": ct.argmax(axis=1).astype(np.float64),
        "HVESS_LowestCellTempIndex": ct.argmin(axis=1).astype(np.float64),
        "HVESS_BusVoltage": r.bus_voltage_v,
        "HVESS_CoolantInletTemp": r.coolant_inlet_c,
        "HVESS_CoolantOutletTemp": r.coolant_outlet_c,
        "HVESS_ElectronicsTemp": r.electronics_c,
        "HVESS_PosContactorState": closed,
        "HVESS_NegContactorState": closed,
        "HVESS_PrechargeState": np.zeros(r.n),
        "HVESS_HvilStatus": np.ones(r.n),
        "HVESS_IsolationTestStatus": np.full(r.n, 2.0),
        "HVESS_CellBalancingActive": (r.balancing_cells > 0).astype(np.float64),
        "HVESS_BalancingCellCount": r.balancing_cells.astype(np.float64),
        "HVESS_ChargerStatus": r.charger_status.astype(np.float64),
        "Insulation_ResistancePos": r.insulation_pos_kohm,
        "Insulation_ResistanceNeg": r.insulation_neg_kohm,
        "Insulation_ResistanceSystem": r.insulation_kohm,
        "Insulation_MeasurementStatus": np.where(r.insulation_kohm < 500.0, 3.0, 2.0),
        "HVESS_StateOfHealth": r.soh_pct,
        "HVESS_ContactorOpenUnderLoadCount": np.zeros(r.n),
        "HVESS_LifetimeEnergyIn": r.energy_in_kwh,
        "HVESS_LifetimeEnergyOut": r.energy_out_kwh,
        "WheelBasedVehicleSpeed": r.speed_kmh,
        "HiResTotalVehicleDistance": r.odometer_km,
        "HiResTripDistance": r.trip_km,
        "Latitude": r.latitude_deg,
        "Longitude": r.longitude_deg,
        "AmbientAirTemp": r.ambient_c,
        "ChargingState": chg,
        "ChargePlugConnected": chg,
        "ChargerPower": r.charger_power_kw,
        "ChargerVoltage": np.where(chg > 0, r.pack_voltage_v, np.nan),
        "ChargerCurrent": np.where(chg > 0, r.pack_current_a, np.nan),
    }


def _scalar_frame(m: MessageDef, state: dict[str, F64], n: int) -> U64:
    data = np.full(n, _ONES, dtype=np.uint64)
    for s in m.signals:
        data = signal(s.name).put(data, state[s.name])
    return data


def _array_frames(values: F64, per: int, bits: int) -> U64:
    """Multiplexed groups: frame k carries elements per*k .. per*k+per-1 after the index byte."""
    n, count = values.shape
    frames = -(-count // per)
    padded = np.full((n, frames * per), np.nan)
    padded[:, :count] = values
    name = "CellVoltage000" if bits == 16 else "TempSensor00"
    sig = signal(name)
    raw = sig.raw(padded).reshape(n, frames, per)
    data = np.full((n, frames), _ONES & ~np.uint64(0xFF), dtype=np.uint64)
    data |= np.arange(frames, dtype=np.uint64)[None, :]
    for j in range(per):
        start = np.uint64(8 + bits * j)
        field = np.uint64((1 << bits) - 1) << start
        data = (data & ~field) | (raw[:, :, j] << start)
    return data


def _fault_frame_data(faults: list[tuple[int, int]]) -> list[int]:
    out = []
    for k in range(max(1, -(-len(faults) // 2))):
        d = k | (min(len(faults), 250) << 8)
        for j in range(2):
            i = 2 * k + j
            spn, fmi = faults[i] if i < len(faults) else (0, 0)
            d |= (spn & 0x7FFFF) << (16 + 24 * j) | (fmi & 0x1F) << (35 + 24 * j)
        out.append(d)
    return out


def encode_records(
    r: Readings, *, with_history: bool
) -> tuple[npt.NDArray[np.void], int, list[list[int]]]:
    """Frame records (buses × frames, :data:`RECORD`) in DBC table order, the
    column of the (first) fault frame, and each bus's fault frame data, which
    the caller puts there (the number of fault frames varies by bus)."""
    state = scalar_state(r)
    cols: list[tuple[int, U64]] = []
    fault_col = -1
    table = message_table()
    for m in table:
        if m.name == "HVESSHIST" and not with_history:
            continue
        if m.name == "PW_CELLV":
            data = _array_frames(r.cell_voltages, CELLS_PER_FRAME, 16)
            cols.extend((m.frame_id, data[:, k]) for k in range(data.shape[1]))
        elif m.name == "PW_CELLT":
            data = _array_frames(r.cell_temps, SENSORS_PER_FRAME, 8)
            cols.extend((m.frame_id, data[:, k]) for k in range(data.shape[1]))
        elif m.name == "PW_FAULTS":
            fault_col = len(cols)
            cols.append((m.frame_id, np.zeros(r.n, dtype=np.uint64)))  # placeholder
        else:
            cols.append((m.frame_id, _scalar_frame(m, state, r.n)))
    rec = np.empty((r.n, len(cols)), dtype=RECORD)
    for k, (fid, data) in enumerate(cols):
        rec["id"][:, k] = fid
        rec["dlc"][:, k] = 8
        rec["data"][:, k] = data
    return rec, fault_col, [_fault_frame_data(f) for f in r.faults]


def encode_payloads(
    r: Readings, rng: np.random.Generator | None = None, p_frame_drop: float = 0.0
) -> list[bytes]:
    """One bundle payload (``schemas.can.bundle`` version 1) per bus of ``r``.

    With ``rng`` and ``p_frame_drop`` > 0, each frame is independently missing
    with that probability (a lost CAN frame inside a bundle).
    """
    hist = (r.seq % HISTORY_EVERY == 0).tolist()
    out: list[bytes] = []
    # Both variants are encoded for all buses: cheaper than splitting the arrays.
    variants = {h: encode_records(r, with_history=h) for h in set(hist)}
    fid = _table()["PW_FAULTS"].frame_id
    for b in range(r.n):
        rec_all, col, faults = variants[hist[b]]
        rec = rec_all[b]
        fdata = faults[b]
        rec["data"][col] = fdata[0]
        if len(fdata) > 1:
            extra = np.empty(len(fdata) - 1, dtype=RECORD)
            extra["id"], extra["dlc"], extra["data"] = fid, 8, fdata[1:]
            rec = np.concatenate((rec[: col + 1], extra, rec[col + 1 :]))
        if rng is not None and p_frame_drop > 0.0:
            keep = rng.random(len(rec)) >= p_frame_drop
            if not keep.all():
                rec = rec[keep]
        vid = r.vehicle_ids[b].encode()
        out.append(
            b"".join(
                (
                    MAGIC,
                    bytes((VERSION, len(vid))),
                    vid,
                    _TAIL.pack(int(r.ts_us[b]), int(r.seq[b]) & 0xFFFFFFFF, len(rec)),
                    rec.tobytes(),
                )
            )
        )
    return out


def to_bundles(r: Readings) -> list[CanBundle]:
    """The same bus-seconds as :func:`encode_payloads`, as ``CanBundle`` objects."""
    from schemas.can.bundle import decode_bundle

    return [decode_bundle(p) for p in encode_payloads(r)]


def frames_of(bundle: CanBundle) -> list[Frame]:
    """The frames of a bundle (for symmetry with ``encode_signals``)."""
    return list(bundle.frames)
