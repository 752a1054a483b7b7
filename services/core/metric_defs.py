"""Every Prometheus metric packwatch exports, declared once with one comment each.

Services import the objects from here; the Grafana pipeline dashboard refers
to these names, and a test checks that every name it uses is declared here.
Each process registers them on its own :class:`CollectorRegistry` (built by
:func:`new_registry`) so that tests can run several services in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class PipelineMetrics:
    """The metrics a stream-processing service (decoder, ingest, scoring, alerts) exports."""

    registry: CollectorRegistry
    # Messages read from Kafka, by service and topic.
    messages_in: Counter
    # Messages written to the dead-letter topic, by service and reason code.
    dlq_messages: Counter
    # Rows committed to the database, by service and table.
    rows_written: Counter
    # Seconds from a batch's first message to its database commit, by service.
    batch_latency: Histogram
    # Messages not yet consumed (high watermark − committed offset), by service and partition.
    consumer_lag: Gauge
    # 1 while the service's partitions are paused for backpressure, by service.
    paused: Gauge
    # Samples replayed to refill a stream job's state after a restart or a partition
    # takeover (their results went out before and are not published again), by service.
    warm_samples: Counter
    # Partitions still replaying that history, by service.
    warming: Gauge


def new_registry() -> PipelineMetrics:
    """A fresh registry holding the pipeline metrics (one per process or per test)."""
    reg = CollectorRegistry()
    return PipelineMetrics(
        registry=reg,
        messages_in=Counter(
            "packwatch_messages_in", "Messages consumed", ["service", "topic"], registry=reg
        ),
        dlq_messages=Counter(
            "packwatch_dlq_messages",
            "Messages sent to the DLQ",
            ["service", "reason"],
            registry=reg,
        ),
        rows_written=Counter(
            "packwatch_rows_written",
            "Rows committed to the database",
            ["service", "table"],
            registry=reg,
        ),
        batch_latency=Histogram(
            "packwatch_batch_latency_seconds",
            "First message of a batch to its commit",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ),
        consumer_lag=Gauge(
            "packwatch_consumer_lag",
            "Messages behind the high watermark",
            ["service", "partition"],
            registry=reg,
        ),
        paused=Gauge(
            "packwatch_consumer_paused",
            "1 while partitions are paused for backpressure",
            ["service"],
            registry=reg,
        ),
        warm_samples=Counter(
            "packwatch_warm_samples",
            "Samples replayed to refill state after a restart or takeover",
            ["service"],
            registry=reg,
        ),
        warming=Gauge(
            "packwatch_warming_partitions",
            "Partitions still replaying their history",
            ["service"],
            registry=reg,
        ),
    )


def observe_many(histogram: Histogram, amounts: Sequence[float] | NDArray[np.float64]) -> None:
    """``histogram.observe(a)`` for every ``a`` of ``amounts`` (not NaN), in one pass.

    A per-sample histogram at thousands of samples a second: one observe costs
    ~1.5 µs of locks and bound comparisons each. This counts the amounts per
    bucket with numpy and adds each bucket's count once. It reads
    prometheus_client's Histogram internals (bounds, bucket and sum values);
    tests/unit/test_metric_defs.py holds it to one-at-a-time observation, so a
    release that changes them fails there.
    """
    if len(amounts) == 0:
        return
    histogram._raise_if_not_observable()  # type: ignore[no-untyped-call]
    values = np.asarray(amounts, dtype=np.float64)
    values = values[~np.isnan(values)]
    bounds = histogram._upper_bounds
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=True):
        if count:
            bucket.inc(count)
    histogram._sum.inc(float(values.sum()))
