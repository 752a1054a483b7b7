"""Time ranges of requests: sane bounds, caps per interval, bucket alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.common import at_micros, micros
from services.api.errors import BadRequest, RangeTooLarge

# Outside these the data cannot exist, and far dates overflow datetime arithmetic.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

INTERVAL_SECONDS = {"1s": 1, "10s": 10, "1m": 60, "15m": 900, "1h": 3600}


def _human(td: timedelta) -> str:
    s = int(td.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400} days"
    if s % 3600 == 0:
        return f"{s // 3600} hours"
    return f"{s} seconds"


def check(start: datetime, end: datetime, cap: timedelta, what: str) -> None:
    """Refuse (400) a range that is empty, outside 2000–2100 or wider than ``cap``."""
    for name, t in (("start", start), ("end", end)):
        if not EARLIEST <= t <= LATEST:
            raise BadRequest(f"{name} must lie between 2000-01-01 and 2100-01-01 UTC")
    if end <= start:
        raise BadRequest("end must be after start")
    if end - start > cap:
        raise RangeTooLarge(
            f"{what} serves at most {_human(cap)} per request; asked for {_human(end - start)}",
            limit_seconds=int(cap.total_seconds()),
            requested_seconds=int((end - start).total_seconds()),
        )


def floor(t: datetime, seconds: int) -> datetime:
    """``t`` rounded down to a bucket boundary (buckets align to the Unix epoch, UTC)."""
    us = micros(t)
    step = seconds * 1_000_000
    return at_micros(us - us % step)


def ceil(t: datetime, seconds: int) -> datetime:
    """``t`` rounded up to a bucket boundary."""
    f = floor(t, seconds)
    return f if f == t else f + timedelta(seconds=seconds)
