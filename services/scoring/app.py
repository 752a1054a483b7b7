"""Wiring of the scoring process: model sessions, pool, producer, consumer, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog

from models.onnx_io import ModelFileError
from services.core.db import open_pool, ping
from services.core.health import Health
from services.core.kafka import open_consumer, open_producer
from services.core.metric_defs import new_registry
from services.core.metrics import serve_metrics
from services.core.settings import CoreSettings
from services.scoring.errors import ModelsUnavailable
from services.scoring.scorer import Scorer
from services.scoring.service import SERVICE, ScoringService
from services.scoring.settings import ScoringSettings
from services.scoring.warm import WarmStart

log = structlog.get_logger(__name__)


@asynccontextmanager
async def scoring_service(
    core: CoreSettings, settings: ScoringSettings, stop: asyncio.Event
) -> AsyncIterator[ScoringService]:
    """Every resource of one scoring process, opened in order and closed in reverse."""
    try:
        scorer = Scorer(
            settings.model_dir,
            threads=settings.onnx_threads,
            hold_s=settings.hold_s,
            clear_s=settings.clear_s,
            health_every_s=settings.health_every_s,
        )
    except ModelFileError as exc:
        raise ModelsUnavailable(str(exc)) from exc
    metrics = new_registry()
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            open_pool(core.dsn, min_size=1, max_size=2, application_name="packwatch-scoring")
        )
        producer = await stack.enter_async_context(open_producer(core.bootstrap_servers))
        warm = WarmStart(core.bootstrap_servers, settings.warmup_s)
        consumer = await stack.enter_async_context(
            open_consumer(
                core.bootstrap_servers,
                [settings.topic],
                group_id=settings.group_id,
                listener=warm,
                bind=warm.bind,
                max_poll_records=settings.batch_max_rows,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.session_timeout_ms // 5,
            )
        )
        service = ScoringService(
            settings, consumer, producer, pool, scorer, metrics, stop.is_set, warm
        )
        health = Health()
        health.add("database", lambda: ping(pool))
        if settings.metrics_port >= 0:
            port = await stack.enter_async_context(
                serve_metrics(
                    metrics.registry, health, settings.metrics_host, settings.metrics_port
                )
            )
            log.info("metrics_listening", port=port, service=SERVICE)
        yield service
