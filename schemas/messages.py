"""The packwatch message contracts and their JSON codec.

Import message types and codec functions from here::

    from schemas.messages import PackSample, encode, decode_pack_sample

Decoding contract (every ``decode_*`` function):

- the payload must be UTF-8 JSON of one object of the requested type;
- unknown fields are ignored and missing optional fields take their defaults,
  so a reader keeps working when a producer adds an optional field;
- ``schema_version`` must be one this reader knows (1); an absent field means 1;
- every timestamp must carry a UTC offset;
- failures raise a :class:`~schemas.errors.MessageDecodeError` subclass whose
  ``reason_code`` says which rule was broken.

Decoding checks shape and types only. Physical plausibility of a ``PackSample``
is :mod:`schemas.validation`'s job.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from schemas.common import (
    SCHEMA_VERSION_V1,
    AlertState,
    AnomalyKind,
    ChargingState,
    ConditionState,
    ContactorState,
    Evidence,
    EvidenceValue,
    HvilState,
    Severity,
)
from schemas.errors import (
    MessageDecodeError,
    NaiveTimestamp,
    UndecodableMessage,
    UnsupportedSchemaVersion,
    WrongSchema,
)
from schemas.events import AlertEvent, AnomalyEvent, HealthScore
from schemas.pack_sample import ArrayStats, PackSample, array_stats, with_cell_stats

__all__ = [
    "MESSAGE_TYPES",
    "SCHEMA_VERSION_V1",
    "SUPPORTED_SCHEMA_VERSIONS",
    "AlertEvent",
    "AlertState",
    "AnomalyEvent",
    "AnomalyKind",
    "ArrayStats",
    "Buffer",
    "ChargingState",
    "ConditionState",
    "ContactorState",
    "Evidence",
    "EvidenceValue",
    "HealthScore",
    "HvilState",
    "Message",
    "MessageDecodeError",
    "PackSample",
    "Severity",
    "array_stats",
    "check_timestamps_aware",
    "decode",
    "decode_alert_event",
    "gc_paused",
    "decode_anomaly_event",
    "decode_health_score",
    "decode_pack_sample",
    "encode",
    "with_cell_stats",
]

Message = PackSample | AnomalyEvent | AlertEvent | HealthScore
M = TypeVar("M", bound=Message)

#: What the decoders accept: anything exposing the buffer protocol.
Buffer = bytes | bytearray | memoryview

#: Versions this reader understands, per message type.
SUPPORTED_SCHEMA_VERSIONS: Final = frozenset({SCHEMA_VERSION_V1})

#: Every contract by its stable name; the JSON Schema files are named after it.
MESSAGE_TYPES: Final[Mapping[str, type[Message]]] = {
    "pack_sample": PackSample,
    "anomaly_event": AnomalyEvent,
    "alert_event": AlertEvent,
    "health_score": HealthScore,
}

# Fields that hold datetimes, per type: checked for a UTC offset after decoding.
_TIMESTAMP_FIELDS: Final[Mapping[type[Message], tuple[str, ...]]] = {
    PackSample: ("ts", "received_at"),
    AnomalyEvent: ("ts", "detected_at"),
    AlertEvent: ("changed_at",),
    HealthScore: ("ts",),
}


class _Header(msgspec.Struct):
    """Just enough of any payload to learn which version it claims to be."""

    schema_version: int | None = None


_encoder: Final = msgspec.json.Encoder()
_header_decoder: Final = msgspec.json.Decoder(_Header)
# Keyed by type; the value type is Any because each decoder yields its own key type.
_decoders: Final[dict[type, msgspec.json.Decoder[Any]]] = {
    t: msgspec.json.Decoder(t) for t in _TIMESTAMP_FIELDS
}


def encode(msg: Message) -> bytes:
    """Encode a message as compact UTF-8 JSON.

    Every field is written, defaults included, so payloads are self-describing.
    Non-finite floats cannot be represented in JSON and come out as ``null``,
    which readers refuse; validate before encoding.
    """
    return _encoder.encode(msg)


def _claimed_version(data: Buffer) -> int | None:
    """The ``schema_version`` a payload declares, or None if it cannot be read."""
    try:
        return _header_decoder.decode(data).schema_version
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def _check_version(version: int | None, type_name: str) -> None:
    if version is not None and version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UnsupportedSchemaVersion(
            f"{type_name} schema_version {version} not in {sorted(SUPPORTED_SCHEMA_VERSIONS)}"
        )


def check_timestamps_aware(msg: Message) -> None:
    """Raise :class:`NaiveTimestamp` if any datetime field of ``msg`` lacks an offset."""
    for name in _TIMESTAMP_FIELDS[type(msg)]:
        value: datetime | None = getattr(msg, name)
        if value is not None and value.utcoffset() is None:
            raise NaiveTimestamp(f"{type(msg).__name__}.{name} has no UTC offset")


def decode(data: Buffer, msg_type: type[M]) -> M:
    """Decode ``data`` as a message of ``msg_type`` (see the module contract)."""
    type_name = msg_type.__name__
    try:
        msg: M = _decoders[msg_type].decode(data)
    except msgspec.ValidationError as exc:
        # A newer version may have changed a field's type; report the version
        # rather than the symptom so the reader's operator knows to upgrade.
        _check_version(_claimed_version(data), type_name)
        raise WrongSchema(f"not a {type_name}: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
        raise UndecodableMessage(f"not JSON: {exc}") from exc
    _check_version(msg.schema_version, type_name)
    check_timestamps_aware(msg)
    return msg


def decode_pack_sample(data: Buffer) -> PackSample:
    """Decode one ``PackSample`` JSON payload; raises ``MessageDecodeError``."""
    return decode(data, PackSample)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off for a block that decodes a batch of messages.

    Decoding allocates many small lists and no reference cycles: the
    collector's passes over a batch's young objects would only add to its cost
    (about a quarter of a PackSample's decode time).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def decode_anomaly_event(data: Buffer) -> AnomalyEvent:
    """Decode one ``AnomalyEvent`` JSON payload; raises ``MessageDecodeError``."""
    return decode(data, AnomalyEvent)


def decode_alert_event(data: Buffer) -> AlertEvent:
    """Decode one ``AlertEvent`` JSON payload; raises ``MessageDecodeError``."""
    return decode(data, AlertEvent)


def decode_health_score(data: Buffer) -> HealthScore:
    """Decode one ``HealthScore`` JSON payload; raises ``MessageDecodeError``."""
    return decode(data, HealthScore)
