"""Bulk histogram observation counts exactly what one-at-a-time observation counts."""

from __future__ import annotations

import math
import random

from prometheus_client import CollectorRegistry, Histogram

from services.core.metric_defs import LATENCY_BUCKETS, observe_many


def _state(h: Histogram) -> tuple[dict[str, float], float]:
    samples = {
        s.labels.get("le", "count"): s.value
        for metric in h.collect()
        for s in metric.samples
        if s.name.endswith("_bucket") or s.name.endswith("_count")
    }
    total = next(s.value for m in h.collect() for s in m.samples if s.name.endswith("_sum"))
    return samples, total


def test_observe_many_is_observe_of_each() -> None:
    rng = random.Random(4)
    # On the bounds themselves, between them, past the last, zero, and a NaN (not counted).
    amounts = [*LATENCY_BUCKETS, 0.0, 99.0, math.nan] + [rng.uniform(0, 12) for _ in range(5000)]
    one = Histogram("one_seconds", "h", buckets=LATENCY_BUCKETS, registry=CollectorRegistry())
    many = Histogram("many_seconds", "h", buckets=LATENCY_BUCKETS, registry=CollectorRegistry())
    for a in amounts:
        if not math.isnan(a):
            one.observe(a)
    observe_many(many, amounts[:100])
    observe_many(many, amounts[100:])
    observe_many(many, [])
    (buckets_one, sum_one), (buckets_many, sum_many) = _state(one), _state(many)
    assert buckets_many == buckets_one
    assert buckets_one["+Inf"] == len(amounts) - 1
    assert math.isclose(sum_many, sum_one, rel_tol=1e-12)
