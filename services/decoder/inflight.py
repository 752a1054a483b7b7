"""One polled batch after it was produced: what must be acknowledged before its offsets commit."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from services.ingest.dlq import DeadLetter


@dataclass
class InFlight:
    """Sends of one batch (samples and dead letters) and the offsets they cover.

    ``generation`` is the reader's rewind count when the batch was read: after
    a failed batch the reader seeks back, and every batch of an older
    generation is dropped unacknowledged instead of committed.
    """

    generation: int
    opened_at: float = field(default_factory=time.monotonic)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # Next offset to commit per partition (last offset seen + 1).
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    samples: int = 0
    bundles: int = 0

    async def acknowledged(self) -> None:
        """Wait for every send; raises the first failure (after all have settled)."""
        results = await asyncio.gather(*self.futures, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def abandon(self) -> None:
        """Let the sends settle without caring how, so no failure goes unretrieved."""
        await asyncio.gather(*self.futures, return_exceptions=True)
