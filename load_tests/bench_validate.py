"""Ingestion's decode-and-validate step on one core: payloads as today's producers
write them, and with a field the contract does not know yet.

    make bench-validate          (or: python -m load_tests.bench_validate)

PackSample v1 may gain optional fields; its decoder ignores keys it does not
know. Ingestion reads each batch with the C column reader and hands what it
declines to the contract's own decoder, one payload at a time. This measures,
in one process and one run, µs of CPU per sample of
``decode_and_validate_batch`` over the same 192-cell, 48-sensor samples:

1. as producers write them today;
2. with one extra key (``"cabin_temp_c": 21.5``) in every payload;
3. baseline: payloads the column reader declines and the contract accepts (the
   vehicle id's first letter written as a ``\\u`` escape), which go the way an
   unknown key went before the reader passed over unknown keys: the C attempt,
   then the contract's decoder on each payload, then columns again.

CPU time of this process (``time.process_time``), the median of the repeats;
peak RSS of the process at the end. Figures, never a verdict.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from load_tests.common import report
from schemas.limits import PackLimits
from schemas.pack_batch import decode_and_validate_batch
from schemas.synthetic import payloads

CELLS, SENSORS = 192, 48
N_VEHICLES, SECONDS = 100, 100  # 10,000 samples a pass
BATCH = 1000  # about what one poll hands the service
REPEATS = 5
LIMITS = PackLimits(cells_in_series=CELLS, temp_sensors=SENSORS)
EXTRA = b',"cabin_temp_c":21.5}'


def _cpu_us_per_sample(work: Callable[[], int], samples: int) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.process_time()
        assert work() == samples, "every sample must be accepted"
        times.append(time.process_time() - t0)
    return statistics.median(times) / samples * 1e6


def main() -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=SECONDS + 60)
    vehicles = [f"B-{i:04d}" for i in range(N_VEHICLES)]
    today = [v for _, v, _ in payloads(vehicles, start, SECONDS, cells=CELLS, sensors=SENSORS)]
    extended = [v[:-1] + EXTRA for v in today]
    declined = [v.replace(b'"B-', b'"\\u0042-', 1) for v in today]
    now = datetime.now(UTC)
    n = len(today)

    def batched(values: list[bytes]) -> Callable[[], int]:
        def run() -> int:
            accepted = 0
            for k in range(0, n, BATCH):
                verdict = decode_and_validate_batch(
                    values[k : k + BATCH], design=lambda _: LIMITS, now=now
                )
                accepted += sum(len(c) for c in verdict.accepted)
            return accepted

        return run

    print(f"{n} samples ({CELLS} cells, {SENSORS} sensors), batches of {BATCH}, {REPEATS} repeats")
    us_today = _cpu_us_per_sample(batched(today), n)
    print(f"  batch, as written today:      {us_today:6.1f} µs a sample", flush=True)
    us_extended = _cpu_us_per_sample(batched(extended), n)
    print(f"  batch, with an unknown field: {us_extended:6.1f} µs a sample", flush=True)
    us_declined = _cpu_us_per_sample(batched(declined), n)
    print(f"  batch, declined by the reader:{us_declined:6.1f} µs a sample", flush=True)
    report(
        "decode-and-validate benchmark",
        {
            "samples": n,
            "cells_per_sample": CELLS,
            "sensors_per_sample": SENSORS,
            "batch_rows": BATCH,
            "us_per_sample": round(us_today, 2),
            "us_per_sample_unknown_field": round(us_extended, 2),
            "baseline_us_per_sample_declined": round(us_declined, 2),
            "baseline_is": "the same batches, every payload declined by the column reader",
            "samples_per_s_unknown_field": round(1e6 / us_extended),
            "speedup_unknown_field_vs_baseline": round(us_declined / us_extended, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    )


if __name__ == "__main__":
    main()
