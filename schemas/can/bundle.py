"""``CanBundle``: the CAN frames one bus sends in one second, and its binary encoding.

The telematics unit forwards the bus's J1939 network (29-bit identifiers only)
and publishes one bundle per bus-second to ``telemetry.can.v1``. The encoding
is fixed-width per frame so that a decoder can view a whole batch of bundles as
one numpy array without a Python loop over frames.

Byte layout (all integers little-endian), version 1::

    offset   size  field
    0        2     magic b"PW" (0x50 0x57)
    2        1     version = 1
    3        1     L = length of the vehicle id in bytes (1..255)
    4        L     vehicle id, UTF-8
    4+L      8     ts_us: int64, bus time in microseconds since 1970-01-01T00:00:00Z
    12+L     4     seq: uint32, the bus's sequence number
    16+L     2     N = number of frames (0..65535)
    18+L     13*N  frames, each: can_id uint32 (29-bit identifier, bits 29..31 zero),
                   dlc uint8 (0..8), data 8 bytes (bytes at and past dlc are zero)

A payload is exactly ``18 + L + 13*N`` bytes; anything else is refused with a
:class:`BundleDecodeError` whose ``reason`` says why.

:func:`encode_signals` builds the frames of one bus-second from physical
values with cantools, so whatever produces bundles (the simulator) encodes
exactly what the DBC says.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import msgspec

from schemas.can import ID_MASK_29, frame_id, load_database, pgn_of
from schemas.can.signals import (
    CELLS_PER_FRAME,
    FAULTS_PER_FRAME,
    MAX_CELLS,
    MAX_FAULTS,
    MAX_TEMP_SENSORS,
    SENSORS_PER_FRAME,
    SignalDef,
    message_table,
)
from schemas.common import at_micros, micros

MAGIC = b"PW"
VERSION = 1
HEADER_FIXED = 18  # header bytes besides the vehicle id
FRAME_SIZE = 13
HEADER_TAIL = struct.Struct("<qIH")  # ts_us, seq, frame count
_FRAME = struct.Struct("<IB8s")

#: One CAN frame: (29-bit identifier, data length code, data bytes of that length).
Frame = tuple[int, int, bytes]


class BundleDecodeError(ValueError):
    """A payload is not a valid bundle; ``reason`` is a short machine-readable word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class CanBundle(msgspec.Struct, frozen=True):
    """The frames one bus sent in one second, stamped with the bus's own clock."""

    vehicle_id: str
    ts_us: int
    seq: int
    frames: list[Frame]

    @property
    def ts(self) -> datetime:
        """The bus timestamp as a timezone-aware UTC datetime."""
        return at_micros(self.ts_us)

    @classmethod
    def at(cls, vehicle_id: str, ts: datetime, seq: int, frames: list[Frame]) -> CanBundle:
        """Build a bundle from an aware datetime; naive datetimes are refused."""
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError("bundle timestamps must be timezone-aware")
        return cls(vehicle_id, micros(ts), seq, frames)


class BundleHeader(NamedTuple):
    """A bundle's header and where its frame records start, without parsing the frames."""

    vehicle_id: str
    ts_us: int
    seq: int
    n_frames: int
    frames_offset: int


def encode_bundle(b: CanBundle) -> bytes:
    """Encode ``b`` in the version-1 layout; raises ValueError on values the layout cannot hold."""
    vid = b.vehicle_id.encode("utf-8")
    if not 1 <= len(vid) <= 255:
        raise ValueError("vehicle id must be 1..255 UTF-8 bytes")
    if not 0 <= b.seq <= 0xFFFFFFFF:
        raise ValueError(f"seq {b.seq} is outside uint32")
    if len(b.frames) > 0xFFFF:
        raise ValueError("a bundle holds at most 65535 frames")
    tail = HEADER_TAIL.pack(b.ts_us, b.seq, len(b.frames))
    parts = [MAGIC, bytes((VERSION, len(vid))), vid, tail]
    for can_id, dlc, data in b.frames:
        if not 0 <= can_id <= ID_MASK_29:
            raise ValueError(f"can id {can_id:#x} is not a 29-bit identifier")
        if not 0 <= dlc <= 8 or len(data) != dlc:
            raise ValueError(f"frame {can_id:#x}: dlc {dlc} with {len(data)} data bytes")
        parts.append(_FRAME.pack(can_id, dlc, data))  # struct pads data with zeros
    return b"".join(parts)


def decode_header(data: bytes | memoryview) -> BundleHeader:
    """Parse and check the header and total length; frame records are not inspected.

    Raises BundleDecodeError with reason ``truncated``, ``bad_magic``,
    ``unsupported_version``, ``bad_vehicle_id`` or ``trailing_bytes``.
    """
    n = len(data)
    if n < 4:
        raise BundleDecodeError("truncated", f"{n} bytes, header needs at least 4")
    if bytes(data[:2]) != MAGIC:
        raise BundleDecodeError("bad_magic", f"starts with {bytes(data[:2])!r}")
    if data[2] != VERSION:
        raise BundleDecodeError("unsupported_version", f"version {data[2]}")
    vlen = data[3]
    if vlen == 0:
        raise BundleDecodeError("bad_vehicle_id", "empty vehicle id")
    if n < HEADER_FIXED + vlen:
        raise BundleDecodeError("truncated", f"{n} bytes, header needs {HEADER_FIXED + vlen}")
    try:
        vehicle_id = bytes(data[4 : 4 + vlen]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleDecodeError("bad_vehicle_id", "vehicle id is not UTF-8") from exc
    ts_us, seq, count = HEADER_TAIL.unpack_from(data, 4 + vlen)
    want = HEADER_FIXED + vlen + FRAME_SIZE * count
    if n < want:
        raise BundleDecodeError("truncated", f"{n} bytes, {count} frames need {want}")
    if n > want:
        raise BundleDecodeError("trailing_bytes", f"{n - want} bytes after {count} frames")
    return BundleHeader(vehicle_id, ts_us, seq, count, HEADER_FIXED + vlen)


def decode_bundle(data: bytes | memoryview) -> CanBundle:
    """Decode one version-1 payload, checking every field; raises BundleDecodeError.

    Frame-level reasons: ``bad_can_id`` (bits above 29 set), ``bad_dlc`` (> 8),
    ``nonzero_padding`` (data bytes past the dlc are not zero).
    """
    h = decode_header(data)
    frames: list[Frame] = []
    for i, (can_id, dlc, raw) in enumerate(_FRAME.iter_unpack(data[h.frames_offset :])):
        if can_id > ID_MASK_29:
            raise BundleDecodeError("bad_can_id", f"frame {i}: id {can_id:#x}")
        if dlc > 8:
            raise BundleDecodeError("bad_dlc", f"frame {i}: dlc {dlc}")
        if any(raw[dlc:]):
            raise BundleDecodeError("nonzero_padding", f"frame {i}")
        frames.append((can_id, dlc, raw[:dlc]))
    return CanBundle(h.vehicle_id, h.ts_us, h.seq, frames)


# --- physical values -> frames -------------------------------------------------


def na_fill(sig: SignalDef) -> int | None:
    """Raw value sent when a signal's value is missing, or None when the field has none."""
    if sig.signed or (sig.na_raw is None and not sig.choices):
        return None
    return (1 << sig.length) - 1


@cache
def _plan() -> list[tuple[Any, SignalDef | None, tuple[SignalDef, ...]]]:
    """(cantools message, multiplexer signal or None, data signals) in table order."""
    db = load_database()
    plan = []
    for m in message_table():
        mux = next((s for s in m.signals if s.is_multiplexer), None)
        plan.append((db.get_message_by_name(m.name), mux, m.signals))
    return plan


def _raw(cmsg: Any, sig: SignalDef, value: float | None) -> int:
    if value is None or math.isnan(value):
        fill = na_fill(sig)
        if fill is None:
            raise ValueError(f"{sig.name} has no not-available encoding; give a value")
        return fill
    raw = int(cmsg.get_signal_by_name(sig.name).conversion.numeric_scaled_to_raw(float(value)))
    # A BMS's fixed-point field saturates at its limits; so does the encoder.
    return min(max(raw, sig.raw_min), sig.raw_max)


def _array_frames(
    cmsg: Any,
    mux: SignalDef,
    sigs: tuple[SignalDef, ...],
    values: Sequence[float],
    per: int,
) -> list[bytes]:
    by_index = {s.index: s for s in sigs if s.array is not None}
    out = []
    for k in range(-(-len(values) // per)):
        raw: dict[str, int] = {mux.name: k}
        for j in range(per):
            sig = by_index.get(k * per + j)
            if sig is None:
                continue
            i = k * per + j
            raw[sig.name] = _raw(cmsg, sig, float(values[i]) if i < len(values) else None)
        out.append(cmsg.encode(raw, scaling=False, padding=True, strict=False))
    return out


def _fault_frames(
    cmsg: Any, sigs: tuple[SignalDef, ...], faults: Sequence[tuple[int, int]]
) -> list[bytes]:
    if len(faults) > MAX_FAULTS:
        raise ValueError(f"at most {MAX_FAULTS} faults fit the fault group")
    names = {(s.array, s.index): s.name for s in sigs if s.array is not None}
    out = []
    for k in range(max(1, -(-len(faults) // FAULTS_PER_FRAME))):
        raw = {"Fault_FrameIndex": k, "Fault_ActiveCount": len(faults)}
        for j in range(FAULTS_PER_FRAME):
            i = k * FAULTS_PER_FRAME + j
            spn, fmi = faults[i] if i < len(faults) else (0, 0)
            raw[names["Fault_Spn", i]] = spn
            raw[names["Fault_Fmi", i]] = fmi
        out.append(cmsg.encode(raw, scaling=False, padding=True, strict=True))
    return out


def encode_signals(
    state: Mapping[str, float | None],
    *,
    cell_voltages: Sequence[float] | None = None,
    temperatures: Sequence[float] | None = None,
    faults: Sequence[tuple[int, int]] | None = None,
    source_address: int | None = None,
    priority: int | None = None,
) -> list[Frame]:
    """Encode one bus-second of physical values into CAN frames (8-byte, 29-bit ids).

    ``state`` maps DBC signal names of the non-multiplexed groups (pack scalars
    and vehicle signals, e.g. ``HVESS_Voltage``, ``WheelBasedVehicleSpeed``) to
    physical values in the DBC's units; None or NaN sends J1939 "not available".
    A group is sent when at least one of its signals is in ``state``. Values
    outside a signal's range saturate at its limits. ``cell_voltages`` (V) and
    ``temperatures`` (degC) are sent in full through the multiplexed groups
    (NaN elements as not available); ``faults`` as (SPN, FMI) pairs, at least
    one frame even when empty. ``source_address`` / ``priority`` replace the
    DBC's defaults on every frame. Unknown signal names raise KeyError.
    """
    known = {s.name for _, mux, sigs in _plan() if mux is None for s in sigs}
    unknown = set(state) - known
    if unknown:
        raise KeyError(f"not signals of a non-multiplexed group: {sorted(unknown)}")
    if cell_voltages is not None and len(cell_voltages) > MAX_CELLS:
        raise ValueError(f"at most {MAX_CELLS} cell voltages fit the DBC")
    if temperatures is not None and len(temperatures) > MAX_TEMP_SENSORS:
        raise ValueError(f"at most {MAX_TEMP_SENSORS} temperatures fit the DBC")
    frames: list[Frame] = []
    for cmsg, mux, sigs in _plan():
        if mux is None:
            if not any(s.name in state for s in sigs):
                continue
            raw = {s.name: _raw(cmsg, s, state.get(s.name)) for s in sigs}
            payloads = [cmsg.encode(raw, scaling=False, padding=True, strict=False)]
        elif mux.name == "CellVoltage_FrameIndex":
            vals = cell_voltages if cell_voltages is not None else ()
            payloads = _array_frames(cmsg, mux, sigs, vals, CELLS_PER_FRAME)
        elif mux.name == "TempSensor_FrameIndex":
            vals = temperatures if temperatures is not None else ()
            payloads = _array_frames(cmsg, mux, sigs, vals, SENSORS_PER_FRAME)
        elif faults is not None:
            payloads = _fault_frames(cmsg, sigs, faults)
        else:
            continue
        can_id = frame_id(
            pgn_of(cmsg.frame_id),
            cmsg.frame_id & 0xFF if source_address is None else source_address,
            (cmsg.frame_id >> 26) & 0x7 if priority is None else priority,
        )
        frames.extend((can_id, len(p), bytes(p)) for p in payloads)
    return frames
