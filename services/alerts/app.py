"""Wiring of the alerts process: settings, lifespans, metrics, the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import structlog

from services.alerts import render
from services.alerts.apply import Applier, Clock
from services.alerts.channels import Channel, Email, Webhook
from services.alerts.faults import check_allowed
from services.alerts.metric_defs import new_alert_metrics
from services.alerts.notify import Notifier, RetryPolicy
from services.alerts.relay import Relay
from services.alerts.service import SERVICE, AlertsService
from services.alerts.settings import AlertsSettings
from services.alerts.sweep import Sweeper
from services.core.db import open_pool, ping
from services.core.health import Health
from services.core.kafka import open_consumer, open_producer
from services.core.metrics import serve_metrics
from services.core.settings import CoreSettings

log = structlog.get_logger(__name__)


def channels_for(settings: AlertsSettings, session: aiohttp.ClientSession) -> dict[str, Channel]:
    return {
        "webhook": Webhook(session, settings.notify_timeout_s),
        "email": Email(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout_s=settings.notify_timeout_s,
        ),
    }


def retry_policy(settings: AlertsSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.notify_max_attempts,
        initial_s=settings.notify_backoff_initial_s,
        max_s=settings.notify_backoff_max_s,
        lease_s=settings.notify_lease_s,
    )


@asynccontextmanager
async def alerts_service(
    core: CoreSettings, settings: AlertsSettings, clock: Clock | None = None
) -> AsyncIterator[AlertsService]:
    """Every resource of one alerts process, opened in order and closed in reverse."""
    check_allowed(settings.fault_kill_after_commits, core.environment)
    metrics = new_alert_metrics()
    clock = clock or Clock(settings.clock)
    links = render.Links(settings.api_base_url.rstrip("/"), settings.grafana_url)
    policy = settings.policy()
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(
            open_pool(core.dsn, min_size=2, max_size=6, application_name="packwatch-alerts")
        )  # fmt: skip
        producer = await stack.enter_async_context(open_producer(core.bootstrap_servers))
        consumer = await stack.enter_async_context(
            open_consumer(
                core.bootstrap_servers, [settings.topic], group_id=settings.group_id,
                group_instance_id=settings.group_instance_id,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=settings.session_timeout_ms // 5,
                max_poll_records=settings.batch_max_events,
            )
        )  # fmt: skip
        session = await stack.enter_async_context(aiohttp.ClientSession())
        service = AlertsService(
            settings,
            consumer,
            producer,
            Applier(pool, policy, links, metrics, clock),
            Sweeper(pool, policy, links, metrics),
            Relay(pool, producer, settings.alerts_topic, metrics, settings.relay_batch),
            Notifier(
                pool,
                channels_for(settings, session),
                retry_policy(settings),
                metrics,
                settings.notify_batch,
            ),
            clock,
            metrics,
        )
        health = Health()
        health.add("database", lambda: ping(pool))

        async def kafka_ok() -> bool:
            return bool(await producer.partitions_for(settings.alerts_topic))

        health.add("kafka", kafka_ok)
        if settings.metrics_port >= 0:
            port = await stack.enter_async_context(
                serve_metrics(
                    metrics.pipeline.registry, health, settings.metrics_host, settings.metrics_port
                )
            )
            log.info("metrics_listening", port=port, service=SERVICE)
        yield service
