"""Wiring of the decoder process: settings, lifespans, metrics, the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog

from services.core.health import Health
from services.core.kafka import DrainingRebalanceListener, open_consumer, open_producer
from services.core.metric_defs import new_registry
from services.core.metrics import serve_metrics
from services.core.settings import CoreSettings
from services.decoder.metric_defs import decoder_metrics
from services.decoder.service import SERVICE, DecoderService
from services.decoder.settings import DecoderSettings
from services.decoder.vectorized import VectorDecoder

log = structlog.get_logger(__name__)


@asynccontextmanager
async def decoder_service(
    core: CoreSettings, settings: DecoderSettings
) -> AsyncIterator[DecoderService]:
    """Every resource of one decoder process, opened in order and closed in reverse."""
    metrics = new_registry()
    decoder = VectorDecoder()  # compiled from the DBC once, before any connection opens
    async with AsyncExitStack() as stack:
        producer = await stack.enter_async_context(
            open_producer(
                core.bootstrap_servers,
                linger_ms=settings.linger_ms,
                max_request_size=4 * 1024 * 1024,
            )
        )
        listener = DrainingRebalanceListener()
        consumer = await stack.enter_async_context(
            open_consumer(
                core.bootstrap_servers, [settings.topic], group_id=settings.group_id,
                listener=listener,
                max_poll_records=settings.batch_max_bundles,
                group_instance_id=settings.group_instance_id,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.session_timeout_ms // 5,
                max_poll_interval_ms=settings.max_poll_interval_ms,
                fetch_max_bytes=settings.fetch_max_bytes,
                max_partition_fetch_bytes=min(settings.fetch_max_bytes, 4 * 1024 * 1024),
            )
        )  # fmt: skip
        service = DecoderService(
            settings, consumer, producer, metrics, decoder_metrics(metrics.registry), decoder
        )
        listener.service = service
        health = Health()

        async def kafka_ok() -> bool:
            return bool(await producer.partitions_for(settings.out_topic))

        health.add("kafka", kafka_ok)
        if settings.metrics_port >= 0:
            port = await stack.enter_async_context(
                serve_metrics(
                    metrics.registry, health, settings.metrics_host, settings.metrics_port
                )
            )
            service.metrics_port = port
            log.info("metrics_listening", port=port, service=SERVICE)
        yield service
