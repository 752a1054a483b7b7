"""Validation of ``PackSample`` messages: is this second of telemetry plausible?

:func:`validate_pack_sample` checks a decoded sample against physics, its pack
design and a time window, raising :class:`SampleRejected` with a
machine-readable reason. :func:`decode_and_validate` does the size check,
decoding and validation in one call and returns either the sample or the
rejection, for consumers that route rejections to a dead-letter topic.

Checks run in a fixed order and the first failure wins: identity and version,
timestamps, finiteness, array lengths, physical ranges, consistency between
fields, fault codes. Validation runs on every ingested sample (~20,000/s), so
a valid sample is confirmed by one constrained msgspec conversion
(:mod:`schemas.sample_probe`); only a suspect one goes through the Python
rules (:mod:`schemas.sample_checks`), which decide and name the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from schemas.errors import (
    MessageDecodeError,
    PayloadTooLarge,
    RejectReason,
    SampleRejected,
    UndecodableMessage,
)
from schemas.limits import (
    DEFAULT_MAX_FUTURE,
    DEFAULT_MAX_PAST,
    DEFAULT_MAX_PAYLOAD_BYTES,
    PackLimits,
)
from schemas.messages import Buffer, decode_pack_sample
from schemas.pack_sample import PackSample
from schemas.sample_checks import check_consistency, check_identity, check_sample, check_time
from schemas.sample_probe import surely_valid

__all__ = [
    "DEFAULT_MAX_FUTURE",
    "DEFAULT_MAX_PAST",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DesignLookup",
    "PackLimits",
    "RejectReason",
    "SampleRejected",
    "decode_and_validate",
    "validate_pack_sample",
]

#: Finds the limits of the pack a sample came from; None when it is unknown.
DesignLookup = Callable[[PackSample], PackLimits | None]

R = RejectReason


def validate_pack_sample(
    sample: PackSample,
    *,
    design: PackLimits,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_past: timedelta = DEFAULT_MAX_PAST,
) -> None:
    """Check that ``sample`` is plausible for a pack of ``design`` at time ``now``.

    ``now`` must be timezone-aware. The sample's ``ts`` must lie within
    ``[now - max_past, now + max_future]``. Returns ``None`` when every check
    passes; otherwise raises :class:`SampleRejected` for the first rule broken,
    with ``reason_code`` a :class:`RejectReason` (see ``schemas/README.md``).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    check_identity(sample)
    check_time(sample, now, max_future, max_past)
    if surely_valid(sample, design):
        # The probe covers every value rule except the cross-field ones.
        check_consistency(sample)
    else:
        check_sample(sample, design)


def _non_finite_literal_keys(data: Buffer) -> list[str] | None:
    """Keys holding NaN/Infinity if ``data`` is JSON apart from those literals.

    Python's ``json.dumps`` writes NaN and Infinity, which are not JSON. Such
    a payload is reported as ``non_finite`` rather than ``undecodable`` so the
    producer's operator sees the real fault. Returns None when the payload
    stays unreadable even with those literals allowed, or has none of them.
    """
    seen: list[str] = []

    def constant(token: str) -> float:
        seen.append(token)
        return float(token.replace("Infinity", "inf"))

    try:
        obj = json.loads(bytes(data), parse_constant=constant)
    except (ValueError, RecursionError):
        return None
    if not seen:
        return None
    if not isinstance(obj, dict):
        return ["$"]
    return [
        str(k)
        for k, v in obj.items()
        if (isinstance(v, float) and not math.isfinite(v))
        or (isinstance(v, list) and any(isinstance(x, float) and not math.isfinite(x) for x in v))
    ] or ["$"]


def decode_and_validate(
    data: Buffer,
    *,
    design: PackLimits | DesignLookup,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_past: timedelta = DEFAULT_MAX_PAST,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> PackSample | SampleRejected:
    """Decode one ``telemetry.pack.v1`` payload and validate it.

    Returns the :class:`PackSample` when it passes, else a :class:`SampleRejected`
    (returned, not raised) whose ``reason_code`` is one of the decoding reasons
    (``oversized``, ``undecodable``, ``wrong_schema``,
    ``unsupported_schema_version``, ``naive_timestamp``), ``unknown_pack_design``
    when ``design`` is a lookup that returns None, or a validation reason.
    Payloads over ``max_bytes`` are refused before parsing. Exceptions raised
    by a ``design`` lookup propagate: they are infrastructure failures, not bad
    input.
    """
    try:
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"{len(data)} bytes > {max_bytes}")
        sample = decode_pack_sample(data)
    except UndecodableMessage as exc:
        keys = _non_finite_literal_keys(data)
        if keys is None:
            return SampleRejected(exc.reason_code, exc.detail)
        return SampleRejected(R.NON_FINITE, f"NaN/Infinity literal in {', '.join(keys)}")
    except MessageDecodeError as exc:
        return SampleRejected(exc.reason_code, exc.detail)

    limits = design if isinstance(design, PackLimits) else design(sample)
    if limits is None:
        return SampleRejected(R.UNKNOWN_PACK_DESIGN, f"no pack design for {sample.vehicle_id!r}")
    try:
        validate_pack_sample(
            sample, design=limits, now=now, max_future=max_future, max_past=max_past
        )
    except SampleRejected as exc:
        return exc
    return sample
