"""The dead-letter topic: rejected messages with their reason, and the limit on them.

A dead-letter record keeps the original key and payload; its headers say why
(``reason``, ``detail``) and where it came from (``source_topic``,
``source_partition``, ``source_offset``), so it can be inspected and replayed.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import UTC, datetime

from services.ingest.errors import DlqLimitExceeded

# Payloads above this are cut in the dead letter (header ``truncated``): an
# oversized message must still fit the producer's request and the broker's limit.
MAX_DEAD_PAYLOAD = 256 * 1024


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected message, ready to publish."""

    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    topic: str
    partition: int
    offset: int

    @property
    def payload(self) -> bytes | None:
        if self.value is None or len(self.value) <= MAX_DEAD_PAYLOAD:
            return self.value
        return self.value[:MAX_DEAD_PAYLOAD]

    def headers(self, service: str) -> list[tuple[str, bytes]]:
        extra = []
        if self.value is not None and len(self.value) > MAX_DEAD_PAYLOAD:
            extra.append(
                ("truncated", f"{len(self.value)} bytes cut to {MAX_DEAD_PAYLOAD}".encode())
            )
        return extra + [
            ("reason", self.reason.encode()),
            ("detail", self.detail[:1000].encode()),
            ("source_topic", self.topic.encode()),
            ("source_partition", str(self.partition).encode()),
            ("source_offset", str(self.offset).encode()),
            ("service", service.encode()),
            ("failed_at", datetime.now(UTC).isoformat().encode()),
        ]


class DlqLimit:
    """Trips when rejects dominate: a bad deploy must not drain the stream into the DLQ.

    Counts over the last ``window`` messages; trips when the rejected share
    exceeds ``max_ratio`` (once at least a tenth of the window was seen) or
    when ``max_consecutive`` messages in a row were rejected.
    """

    def __init__(self, max_ratio: float, window: int, max_consecutive: int) -> None:
        self._max_ratio = max_ratio
        self._window: collections.deque[bool] = collections.deque(maxlen=window)
        self._bad_in_window = 0
        self._consecutive = 0
        self._max_consecutive = max_consecutive
        self._min_seen = max(10, window // 10)

    def record(self, rejected: bool) -> None:
        """Count one message; raise :class:`DlqLimitExceeded` when the limit trips."""
        if len(self._window) == self._window.maxlen and self._window[0]:
            self._bad_in_window -= 1
        self._window.append(rejected)
        self._bad_in_window += rejected
        self._consecutive = self._consecutive + 1 if rejected else 0
        if self._consecutive >= self._max_consecutive:
            raise DlqLimitExceeded(f"{self._consecutive} consecutive messages rejected")
        seen = len(self._window)
        if seen >= self._min_seen and self._bad_in_window / seen > self._max_ratio:
            raise DlqLimitExceeded(
                f"{self._bad_in_window} of the last {seen} messages rejected "
                f"(limit {self._max_ratio:.0%})"
            )
