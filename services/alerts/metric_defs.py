"""The alerts service's own Prometheus metrics, one comment each.

The pipeline metrics (messages in, DLQ, rows written) come from
:mod:`services.core.metric_defs`; these add the lifecycle and delivery view.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from services.core.metric_defs import LATENCY_BUCKETS, PipelineMetrics, new_registry


@dataclass(frozen=True)
class AlertMetrics:
    pipeline: PipelineMetrics
    # AnomalyEvents applied, by outcome (opened, reopened, updated, cleared, ignored,
    # suppressed, duplicate).
    events: Counter
    # Alert lifecycle changes committed, by action (opened, escalated, resolved, …).
    changes: Counter
    # Outbox rows published to pack.alerts.v1.
    published: Counter
    # Outbox rows committed but not yet published (sampled by the relay).
    outbox_backlog: Gauge
    # Notification delivery attempts, by channel and result (sent, retry, dead).
    deliveries: Counter
    # Notifications in the dead-letter state (sampled by the notifier).
    dead_notifications: Gauge
    # Seconds from a notification's creation to its successful delivery, by channel.
    delivery_latency: Histogram


def new_alert_metrics() -> AlertMetrics:
    pipeline = new_registry()
    reg = pipeline.registry
    return AlertMetrics(
        pipeline=pipeline,
        events=Counter(
            "packwatch_alert_events", "AnomalyEvents applied", ["outcome"], registry=reg
        ),
        changes=Counter(
            "packwatch_alert_changes", "Alert lifecycle changes", ["action"], registry=reg
        ),
        published=Counter(
            "packwatch_alert_messages_published", "Outbox rows published", registry=reg
        ),
        outbox_backlog=Gauge(
            "packwatch_alert_outbox_backlog", "Outbox rows not yet published", registry=reg
        ),
        deliveries=Counter(
            "packwatch_alert_deliveries",
            "Notification delivery attempts",
            ["channel", "result"],
            registry=reg,
        ),
        dead_notifications=Gauge(
            "packwatch_alert_notifications_dead",
            "Notifications in dead-letter state",
            registry=reg,
        ),
        delivery_latency=Histogram(
            "packwatch_alert_delivery_latency_seconds",
            "Notification creation to delivery",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ),
    )
