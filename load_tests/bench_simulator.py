"""Benchmark: can ``packwatch simulate --buses 1000 --speed 1`` keep up with real time on one core?

Runs the same loop as the CLI for a 1000-bus fleet at 1 s steps — physics,
readings, CAN bundle encoding (every frame, DBC-exact) and the link
impairments — without a broker, and prints simulated bus-seconds per wall
second; real time needs >= the bus count. The last line is one JSON object.

    .venv/bin/python -m load_tests.bench_simulator [--buses 1000] [--seconds 30]
"""

from __future__ import annotations

import os

# One core: keep numpy's BLAS from spreading over threads (set before numpy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from services.simulator import Fleet, FleetConfig, encode_payloads  # noqa: E402
from services.simulator.realism import Impairer  # noqa: E402


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--buses", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30, help="simulated seconds measured")
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    # Pin to one CPU where the OS allows; elsewhere the thread limits above hold numpy to one.
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    start = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)  # 08:30 IST: buses in service
    t0 = time.perf_counter()
    fleet = Fleet(FleetConfig(buses=a.buses, start=start, seed=1, faults="random:count=20"))
    build_s = time.perf_counter() - t0
    imp: Impairer[tuple[str, bytes]] = Impairer(fleet.config.realism, fleet.rng)
    step_s = read_s = enc_s = 0.0
    frames = payload_bytes = 0
    for k in range(a.warmup + a.seconds):
        t1 = time.perf_counter()
        fleet.step(1.0)
        t2 = time.perf_counter()
        readings = fleet.readings()
        t3 = time.perf_counter()
        items: list[tuple[str, bytes]] = []
        for r in readings:
            items.extend(zip(r.vehicle_ids, encode_payloads(r, fleet.rng, 2e-4), strict=True))
        out = imp.apply(fleet.tick, items)
        t4 = time.perf_counter()
        if k >= a.warmup:
            step_s += t2 - t1
            read_s += t3 - t2
            enc_s += t4 - t3
            payload_bytes += sum(len(p) for _, p in out)
            frames += sum((len(p) - 26) // 13 for _, p in out)
    wall = step_s + read_s + enc_s
    bus_s = a.buses * a.seconds
    rate = bus_s / wall
    print(f"fleet of {a.buses} buses built in {build_s:.2f} s")
    print(
        f"{a.seconds} simulated s: physics {step_s:.2f} s, readings {read_s:.2f} s, "
        f"CAN encoding {enc_s:.2f} s, total {wall:.2f} s"
    )
    print(
        f"{rate:,.0f} bus-seconds per wall second = {rate / a.buses:.1f}x real time "
        f"for {a.buses} buses ({frames / bus_s:.1f} frames, {payload_bytes / bus_s:.0f} bytes "
        "per bus-second)"
    )
    print(
        json.dumps(
            {
                "benchmark": "simulator",
                "buses": a.buses,
                "simulated_s": a.seconds,
                "bus_seconds_per_s": round(rate, 1),
                "real_time_factor": round(rate / a.buses, 2),
                "sustains_real_time": rate >= a.buses,
                "physics_s": round(step_s, 3),
                "readings_s": round(read_s, 3),
                "encode_s": round(enc_s, 3),
                "frames_per_bus_s": round(frames / bus_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
