"""aiokafka producer and consumer lifecycles with packwatch's defaults.

Producers are idempotent with ``acks=all`` (a retried send never duplicates);
consumers never auto-commit: a service commits an offset only after the work
for that message is durable (the database transaction committed, or the
produced message acknowledged).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_producer(
    bootstrap: str,
    *,
    close_timeout_s: float = 10.0,
    **overrides: Any,
) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer for the lifetime of the block; flushed and closed on exit."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 1024 * 1024,
        "compression_type": None,
        "request_timeout_ms": 30000,
    }
    options.update(overrides)
    producer = AIOKafkaProducer(**options)
    await producer.start()
    try:
        yield producer
    finally:
        try:
            await asyncio.wait_for(producer.stop(), close_timeout_s)
        except TimeoutError:
            log.warning("kafka_producer_close_timeout", timeout_s=close_timeout_s)


@asynccontextmanager
async def open_consumer(
    bootstrap: str,
    topics: Sequence[str],
    *,
    group_id: str | None,
    listener: ConsumerRebalanceListener | None = None,
    bind: Callable[[AIOKafkaConsumer], None] | None = None,
    close_timeout_s: float = 10.0,
    **overrides: Any,
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer subscribed to ``topics`` with auto-commit off.

    ``bind`` receives the consumer before it starts: a ``listener`` that needs
    it (to seek) has it by the first assignment, which may come during start.

    ``auto_offset_reset`` defaults to ``earliest``: a new group reads what is
    already in the topic rather than silently skipping it.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_interval_ms": 300000,
        "session_timeout_ms": 30000,
        "heartbeat_interval_ms": 3000,
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    if listener is None:
        consumer = AIOKafkaConsumer(*topics, **options)
    else:
        consumer = AIOKafkaConsumer(**options)
    if bind is not None:
        bind(consumer)
    try:
        if listener is not None:
            consumer.subscribe(list(topics), listener=listener)
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    try:
        yield consumer
    finally:
        try:
            await asyncio.wait_for(consumer.stop(), close_timeout_s)
        except TimeoutError:
            log.warning("kafka_consumer_close_timeout", timeout_s=close_timeout_s)


async def commit_owned(
    consumer: AIOKafkaConsumer,
    offsets: dict[TopicPartition, int],
    *,
    retry_initial_s: float = 0.2,
    attempts: int = 5,
) -> dict[TopicPartition, int]:
    """Commit the offsets of partitions this consumer still owns; return what was committed.

    After a rebalance the group has moved on: the commit is skipped and the new
    owner re-reads those messages, which every packwatch consumer handles
    idempotently. A broker error is retried a few times, then given up (the
    same re-read follows); neither stops the service.
    """
    owned = consumer.assignment()
    offsets = {tp: o for tp, o in offsets.items() if tp in owned}
    if not offsets:
        return {}
    for attempt in range(attempts):
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("commit_skipped_after_rebalance", error=repr(exc))
            return {}
        except KafkaError as exc:
            log.warning("commit_retry", error=repr(exc), attempt=attempt)
            await asyncio.sleep(retry_initial_s * 2**attempt)
        else:
            return offsets
    log.warning("commit_gave_up", partitions=len(offsets))
    return {}


class Drains(Protocol):
    """A service that can write and commit what it read before partitions go."""

    async def drain_before_revoke(self, revoked: set[TopicPartition]) -> None: ...


class DrainingRebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions go, let the service commit what it read from them.

    Created before the consumer (aiokafka takes it at subscribe time); the
    service is attached once it exists.
    """

    def __init__(self) -> None:
        self.service: Drains | None = None

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self.service is not None:
            await self.service.drain_before_revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
