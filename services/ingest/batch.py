"""A batch: accepted samples as columns, dead letters and the offsets they came from.

A batch closes on size (``max_rows`` messages) or on time (``max_ms`` after
its first message), whichever comes first; the service holds a batch that is
due on time while its writer is still busy with the previous one. Its offsets are committed only
after its rows are in the database and its dead letters are acknowledged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from aiokafka import TopicPartition
from numpy.typing import NDArray

from schemas.pack_batch import SampleColumns
from services.ingest.dlq import DeadLetter

#: Where a row came from (key, payload, partition, offset), to dead-letter a
#: row the database refuses.
Source = tuple[bytes | None, bytes, TopicPartition, int]


@dataclass
class Batch:
    """What one write covers."""

    max_rows: int
    max_ms: int
    # Accepted samples, a group of columns per pack design and read; rows are
    # numbered across the groups in order (``sources`` follows it).
    groups: list[SampleColumns] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # Next offset to commit per partition (last offset seen + 1).
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    messages: int = 0
    opened_at: float | None = None

    def note(self, tp: TopicPartition, offset: int) -> None:
        if self.opened_at is None:
            self.opened_at = time.monotonic()
        self.messages += 1
        self.offsets[tp] = offset + 1

    def add_rows(self, cols: SampleColumns, sources: list[Source]) -> None:
        """Accepted samples ``cols``; ``sources[i]`` is where row ``i`` of them came from."""
        self.groups.append(cols)
        self.sources.extend(sources)

    def sample_ts_us(self) -> NDArray[np.int64]:
        """The rows' vehicle times, microseconds since 1970 UTC, in row order."""
        return np.concatenate([g.times["ts"] for g in self.groups] or [np.empty(0, np.int64)])

    @property
    def rows(self) -> int:
        return len(self.sources)

    @property
    def room(self) -> int:
        """Messages this batch takes before it is full."""
        return max(0, self.max_rows - self.messages)

    @property
    def full(self) -> bool:
        return self.messages >= self.max_rows

    def expired(self, now: float | None = None) -> bool:
        if self.opened_at is None:
            return False
        return ((now or time.monotonic()) - self.opened_at) * 1000 >= self.max_ms

    def remaining_ms(self) -> int:
        if self.opened_at is None:
            return self.max_ms
        return max(0, int(self.max_ms - (time.monotonic() - self.opened_at) * 1000))

    def __bool__(self) -> bool:
        return self.messages > 0
