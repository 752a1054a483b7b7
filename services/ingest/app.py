"""Wiring of the ingest process: settings, lifespans, metrics, the service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from prometheus_client import Histogram

from services.core.db import open_pool, ping
from services.core.errors import with_retries
from services.core.health import Health
from services.core.kafka import DrainingRebalanceListener, open_consumer, open_producer
from services.core.metric_defs import LATENCY_BUCKETS, new_registry
from services.core.metrics import serve_metrics
from services.core.settings import CoreSettings
from services.ingest.registry import DesignRegistry
from services.ingest.service import SERVICE, IngestService
from services.ingest.settings import IngestSettings
from services.ingest.start_gate import pass_start_gate
from services.ingest.writer import Writer, detect_timescale, init_connection

log = structlog.get_logger(__name__)


async def _wait_for_database(
    registry: DesignRegistry, pool: Any, settings: IngestSettings, stop: asyncio.Event
) -> None:
    await with_retries(
        lambda: registry.refresh(pool), what="database_wait", stopping=stop.is_set,
        retry_initial_s=settings.retry_initial_s, retry_max_s=settings.retry_max_s,
    )  # fmt: skip


@asynccontextmanager
async def ingest_service(
    core: CoreSettings, settings: IngestSettings, stop: asyncio.Event
) -> AsyncIterator[IngestService]:
    """Every resource of one ingest process, opened in order and closed in reverse."""
    metrics = new_registry()
    # Vehicle timestamp → row committed, per sample.
    e2e = Histogram(
        "packwatch_ingest_e2e_latency_seconds",
        "Vehicle timestamp to database commit, per sample",
        buckets=LATENCY_BUCKETS,
        registry=metrics.registry,
    )
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            # min_size 0: the pool opens without a connection, so a database
            # that is down at start is waited for below instead of crashing.
            open_pool(core.dsn, min_size=0, max_size=3, application_name="packwatch-ingest",
                      init=init_connection)
        )  # fmt: skip
        registry = DesignRegistry(settings.registry_refresh_s)
        await _wait_for_database(registry, pool, settings, stop)
        producer = await stack.enter_async_context(
            open_producer(core.bootstrap_servers, max_request_size=4 * 1024 * 1024)
        )
        listener = DrainingRebalanceListener()
        # Under `--workers N`: join the group together with the other workers.
        if await pass_start_gate(stop):
            log.info("start_gate_passed")

        consumer = await stack.enter_async_context(
            open_consumer(
                core.bootstrap_servers, [settings.topic], group_id=settings.group_id,
                listener=listener,
                max_poll_records=settings.poll_max_records,
                group_instance_id=settings.group_instance_id,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.session_timeout_ms // 5,
                max_poll_interval_ms=settings.max_poll_interval_ms,
                fetch_max_bytes=settings.fetch_max_bytes,
                max_partition_fetch_bytes=settings.fetch_max_bytes // 4,
            )
        )  # fmt: skip
        writer = Writer(
            pool,
            group=settings.group_id,
            topic=settings.topic,
            timescale=await detect_timescale(pool),
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
            stopping=stop.is_set,
            on_retry=lambda exc: None,
        )

        async def refresh() -> None:
            await registry.refresh(pool)

        service = IngestService(
            settings, consumer, producer, writer, registry, refresh, metrics, e2e
        )
        listener.service = service
        health = Health()
        health.add("database", lambda: ping(pool))

        async def kafka_ok() -> bool:
            return bool(await producer.partitions_for(settings.topic))

        health.add("kafka", kafka_ok)
        if settings.metrics_port >= 0:
            port = await stack.enter_async_context(
                serve_metrics(
                    metrics.registry, health, settings.metrics_host, settings.metrics_port
                )
            )
            log.info("metrics_listening", port=port, service=SERVICE)
        yield service
