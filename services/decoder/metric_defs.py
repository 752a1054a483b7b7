"""The decoder's own metrics, beside the pipeline metrics of :mod:`services.core.metric_defs`.

Declared once, one comment each, on the process's registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

DECODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class DecoderMetrics:
    """Counters and timings specific to turning bundles into PackSamples."""

    # PackSamples acknowledged by the broker, by output topic.
    samples_out: Counter
    # Seconds to decode and convert one polled batch (vectorised decode + Structs + JSON).
    decode_seconds: Histogram
    # Produce rounds that failed and made the service rewind to its acknowledged offsets.
    produce_failures: Counter


def decoder_metrics(registry: CollectorRegistry) -> DecoderMetrics:
    """The decoder's metrics, registered on ``registry``."""
    return DecoderMetrics(
        samples_out=Counter(
            "packwatch_decoder_samples_out",
            "PackSamples acknowledged by the broker",
            ["topic"],
            registry=registry,
        ),
        decode_seconds=Histogram(
            "packwatch_decoder_decode_seconds",
            "Decode and convert time per polled batch",
            buckets=DECODE_BUCKETS,
            registry=registry,
        ),
        produce_failures=Counter(
            "packwatch_decoder_produce_failures",
            "Produce rounds that failed and were rewound",
            registry=registry,
        ),
    )
