"""Errors raised by the message contracts, and the reasons they carry.

Every refusal carries a machine-readable ``reason_code`` (a :class:`RejectReason`)
that consumers copy into dead-letter headers and metric labels, plus a
human-readable ``detail``. Callers branch on the type or the code, never on the
detail text.

Hierarchy::

    MessageRejected                 a payload or message was refused
     ├── MessageDecodeError         bytes could not become a message
     │    ├── PayloadTooLarge           oversized
     │    ├── UndecodableMessage        undecodable
     │    ├── WrongSchema               wrong_schema
     │    ├── UnsupportedSchemaVersion  unsupported_schema_version
     │    └── NaiveTimestamp            naive_timestamp
     └── SampleRejected             a PackSample broke a physical or design rule
"""

from __future__ import annotations

import enum
from typing import ClassVar


class RejectReason(enum.StrEnum):
    """Why a payload was refused; the values are stable wire strings."""

    # decoding
    OVERSIZED = "oversized"
    UNDECODABLE = "undecodable"
    WRONG_SCHEMA = "wrong_schema"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    NAIVE_TIMESTAMP = "naive_timestamp"
    # identity and time
    INVALID_VEHICLE_ID = "invalid_vehicle_id"
    INVALID_PACK_ID = "invalid_pack_id"
    UNKNOWN_PACK_DESIGN = "unknown_pack_design"
    SEQ_OUT_OF_RANGE = "seq_out_of_range"
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    # physics
    NON_FINITE = "non_finite"
    PACK_VOLTAGE_OUT_OF_RANGE = "pack_voltage_out_of_range"
    CURRENT_OUT_OF_RANGE = "current_out_of_range"
    SOC_OUT_OF_RANGE = "soc_out_of_range"
    SOH_OUT_OF_RANGE = "soh_out_of_range"
    CELL_VOLTAGE_OUT_OF_RANGE = "cell_voltage_out_of_range"
    TEMPERATURE_OUT_OF_RANGE = "temperature_out_of_range"
    INSULATION_OUT_OF_RANGE = "insulation_out_of_range"
    SPEED_OUT_OF_RANGE = "speed_out_of_range"
    ODOMETER_OUT_OF_RANGE = "odometer_out_of_range"
    POSITION_OUT_OF_RANGE = "position_out_of_range"
    # pack design and derived fields
    CELL_COUNT_MISMATCH = "cell_count_mismatch"
    SENSOR_COUNT_MISMATCH = "sensor_count_mismatch"
    STATS_INCONSISTENT = "stats_inconsistent"
    FAULT_CODES_INVALID = "fault_codes_invalid"


class MessageRejected(Exception):
    """A payload or message was refused.

    ``reason_code`` is machine-readable and stable; ``detail`` is for people.
    """

    def __init__(self, reason_code: RejectReason | str, detail: str) -> None:
        # A plain string is accepted for convenience but must name a known
        # reason: unknown codes would split dashboards and DLQ queries.
        code = RejectReason(reason_code)
        super().__init__(f"{code.value}: {detail}")
        self.reason_code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[MessageRejected], tuple[RejectReason, str]]:
        # Keeps the two-argument constructor working through pickle
        # (process pools, multiprocessing queues).
        return (type(self), (self.reason_code, self.detail))


class MessageDecodeError(MessageRejected):
    """Bytes could not be turned into a message of the requested type."""


class _FixedReason(MessageDecodeError):
    """A decode error whose reason follows from its type alone."""

    reason: ClassVar[RejectReason]

    def __init__(self, detail: str) -> None:
        super().__init__(self.reason, detail)

    def __reduce__(self) -> tuple[type[MessageRejected], tuple[str]]:  # type: ignore[override]
        return (type(self), (self.detail,))


class PayloadTooLarge(_FixedReason):
    """The payload is larger than the configured limit; it was not parsed."""

    reason = RejectReason.OVERSIZED


class UndecodableMessage(_FixedReason):
    """The payload is not well-formed JSON (truncated, binary, bad UTF-8)."""

    reason = RejectReason.UNDECODABLE


class WrongSchema(_FixedReason):
    """Well-formed JSON whose shape or types do not match the message type."""

    reason = RejectReason.WRONG_SCHEMA


class UnsupportedSchemaVersion(_FixedReason):
    """The payload declares a ``schema_version`` this reader does not know."""

    reason = RejectReason.UNSUPPORTED_SCHEMA_VERSION


class NaiveTimestamp(_FixedReason):
    """A timestamp has no UTC offset, so the instant it names is unknown."""

    reason = RejectReason.NAIVE_TIMESTAMP


class SampleRejected(MessageRejected):
    """A decoded :class:`~schemas.pack_sample.PackSample` failed validation."""
