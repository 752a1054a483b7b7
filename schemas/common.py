"""Types shared by every packwatch message: enums, timestamps and evidence.

Enums are encoded on the wire by value (small ints for BMS states, lower-case
strings for event vocabularies), so the JSON stays readable from any language
and the JSON Schemas list the allowed values.

Adding a member to an enum is a contract change: a reader that does not know
the new value refuses the whole message. New members therefore arrive with a
new schema version (see ``schemas/README.md``).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import msgspec

#: The Unix epoch, UTC: bundles, columns and cursors count microseconds from it.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)


def micros(v: datetime) -> int:
    """An aware datetime as microseconds since :data:`EPOCH`."""
    return (v - EPOCH) // _US


def at_micros(us: int) -> datetime:
    """The aware (UTC) datetime ``us`` microseconds after :data:`EPOCH`."""
    return EPOCH + timedelta(microseconds=us)


#: Version of the message contracts defined in this package.
SCHEMA_VERSION_V1: Final = 1

#: A timezone-aware instant. The JSON form is RFC 3339 with an offset; producers
#: write UTC (``Z``). The Struct type itself does not refuse naive datetimes so
#: that the decoders can report them with their own reason code.
Timestamp = Annotated[
    datetime,
    msgspec.Meta(
        description="RFC 3339 instant with offset; producers write UTC ('Z')",
        extra_json_schema={"format": "date-time"},
    ),
]

#: One piece of evidence: a reading, a threshold, a label or a short series.
EvidenceValue = float | int | str | bool | list[float] | None

#: The readings that made a detector fire, by name (e.g. ``"sensor_temp_c"``).
Evidence = dict[str, EvidenceValue]


class ContactorState(enum.IntEnum):
    """Main contactor state of the pack.

    0-2 are the J1939 HVESSS1 two-bit contactor states as the DBC carries them
    (3, "not available", becomes ``None`` in a message). PRECHARGING is
    packwatch's own: the precharge relay is closed and the mains are not.
    """

    OPEN = 0
    CLOSED = 1
    ERROR = 2
    PRECHARGING = 4


class HvilState(enum.IntEnum):
    """High-voltage interlock loop, as HVESSS1: CLOSED means intact (safe)."""

    OPEN = 0
    CLOSED = 1
    ERROR = 2


class ChargingState(enum.IntEnum):
    """Charging state with the values of VSS ``TractionBattery.ChargingState``.

    The same numbers as the DBC's ``ChargingState`` signal (15, "not
    available", becomes ``None`` in a message).
    """

    IDLE = 0
    CHARGING = 1
    STANDBY = 2
    INITIALISING = 10
    PRE_CHARGE = 11
    TERMINATING = 12
    BATTERY_FAILURE = 13
    EVSE_FAULT = 14


class Severity(enum.StrEnum):
    """How urgent an anomaly or alert is, lowest first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AnomalyKind(enum.StrEnum):
    """What kind of condition a detector found.

    The first five are the kinds of fault the thermal and insulation detectors
    name, by model or by a deterministic check; the rest are safety rules whose
    cause is not known. A coolant dT past its limit is reported as a cooling
    failure: ``coolant_delta_t`` is kept so that older messages still decode.
    """

    COOLING_FAILURE = "cooling_failure"
    SELF_HEATING_CELL = "self_heating_cell"
    CONNECTION_HOT_SPOT = "connection_hot_spot"
    SENSOR_FAULT = "sensor_fault"
    INSULATION_FAULT = "insulation_fault"
    OVER_TEMPERATURE = "over_temperature"
    TEMPERATURE_RISE_RATE = "temperature_rise_rate"
    TEMPERATURE_SPREAD = "temperature_spread"
    COOLANT_DELTA_T = "coolant_delta_t"
    WEAK_CELL = "weak_cell"


class ConditionState(enum.StrEnum):
    """Whether an anomaly event reports a condition or its end."""

    ACTIVE = "active"
    CLEARED = "cleared"


class AlertState(enum.StrEnum):
    """Lifecycle state of a maintenance alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    AUTO_RESOLVED = "auto_resolved"
