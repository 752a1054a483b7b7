"""The Prometheus metrics the API exports, declared once with one comment each.

Kept beside the API (rather than in :mod:`services.core.metric_defs`, which
holds the stream-processing metrics) and registered on a per-app registry so
tests can build several apps in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.core.metric_defs import LATENCY_BUCKETS


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    # Requests answered, by method, route template and status code.
    requests: Counter
    # Seconds from request to the last byte of the response, by method and route template.
    latency: Histogram


def new_api_metrics() -> ApiMetrics:
    """A fresh registry with the API metrics (one per app)."""
    reg = CollectorRegistry()
    return ApiMetrics(
        registry=reg,
        requests=Counter(
            "packwatch_api_requests",
            "API requests answered",
            ["method", "route", "status"],
            registry=reg,
        ),
        latency=Histogram(
            "packwatch_api_request_seconds",
            "API request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ),
    )
