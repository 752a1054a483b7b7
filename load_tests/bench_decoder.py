"""Decoder throughput: decoded bus-seconds per second on one core, vectorised vs cantools.

Each bus-second is a plausible bundle of a 192-cell, 48-sensor pack (84 frames:
64 cell-voltage, 7 temperature, 1 fault, 12 pack and vehicle groups), encoded
in the ``telemetry.can.v1`` byte layout with a random J1939 source address per
bus. The vectorised path decodes raw payloads in batches, as the Kafka
consumer hands them over; the cantools path parses each bundle and decodes
each frame with ``Message.decode``, placing values as the vectorised path does.

Rates are per second of this process's CPU time on the one core it is pinned
to, so other load on a shared machine does not count against the decoder;
wall-clock rates are printed beside them (``*_wall`` in the JSON). The median
of the repeats is reported.

Prints readable figures, then one JSON line with ``bus_seconds_per_s``,
``cantools_bus_seconds_per_s`` and ``speedup_vs_cantools``. It measures, it
never passes or fails on time.

    .venv/bin/python -m load_tests.bench_decoder [--bundles 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from schemas.can import message_for_frame_id
from schemas.can.bundle import CanBundle, decode_bundle, encode_bundle, encode_signals
from schemas.can.samples import plausible_input
from services.decoder.vectorized import VectorDecoder

N_CELLS = 192
N_SENSORS = 48
DISTINCT = 256  # distinct bus-seconds, cycled to make the workload


def make_payloads(n: int, seed: int = 1) -> list[bytes]:
    """``n`` payloads cycling through ``DISTINCT`` plausible bus-seconds."""
    rng = np.random.default_rng(seed)
    distinct = []
    for i in range(DISTINCT):
        inp = plausible_input(rng, N_CELLS, N_SENSORS)
        frames = encode_signals(
            inp.state,
            cell_voltages=inp.cell_voltages,
            temperatures=inp.temperatures,
            faults=inp.faults,
            source_address=int(rng.integers(0, 256)),
        )
        distinct.append(
            encode_bundle(CanBundle(f"bus-{i:05d}", 1_790_000_000_000_000 + i, i, frames))
        )
    return [distinct[i % DISTINCT] for i in range(n)]


Rates = list[tuple[float, float]]  # (per CPU-second, per wall-second) of each repeat


def bench_vectorised(payloads: list[bytes], batch: int, repeats: int) -> Rates:
    """Bus-seconds per second of each repeat over all payloads."""
    dec = VectorDecoder()
    dec.decode_payloads(payloads[:batch])  # warm caches and lazy imports
    rates = []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(0, len(payloads), batch):
            dec.decode_payloads(payloads[i : i + batch])
        c1, w1 = time.process_time(), time.perf_counter()
        rates.append((len(payloads) / (c1 - c0), len(payloads) / (w1 - w0)))
    return rates


def cantools_decode(payload: bytes) -> tuple[dict[str, float], list[float], list[float]]:
    """One bundle decoded frame by frame with cantools: scalars, cell voltages, temperatures."""
    b = decode_bundle(payload)
    scalars: dict[str, float] = {}
    cells = [float("nan")] * 240
    temps = [float("nan")] * 64
    for can_id, _, data in b.frames:
        msg = message_for_frame_id(can_id)
        if msg is None:
            continue
        for name, value in msg.decode(data, decode_choices=False).items():
            if (
                name.startswith("CellVoltage0")
                or name.startswith("CellVoltage1")
                or name.startswith("CellVoltage2")
            ):
                cells[int(name[11:])] = value
            elif name.startswith("TempSensor") and name[10:].isdigit():
                temps[int(name[10:])] = value
            else:
                scalars[name] = value
    return scalars, cells, temps


def bench_cantools(payloads: list[bytes], repeats: int) -> Rates:
    """Bus-seconds per second of per-frame cantools decoding."""
    cantools_decode(payloads[0])
    rates = []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for p in payloads:
            cantools_decode(p)
        c1, w1 = time.process_time(), time.perf_counter()
        rates.append((len(payloads) / (c1 - c0), len(payloads) / (w1 - w0)))
    return rates


def _pin_one_core() -> str:
    """Run on one CPU so the figure is a one-core figure; say which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks and print the figures, JSON last."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundles", type=int, default=100_000, help="bus-seconds, vectorised")
    ap.add_argument("--cantools-bundles", type=int, default=2_000, help="bus-seconds, cantools")
    ap.add_argument("--batch", type=int, default=1_000, help="bundles per vectorised call")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    pinned = _pin_one_core()
    payloads = make_payloads(max(args.bundles, args.cantools_bundles))
    frames = len(decode_bundle(payloads[0]).frames)
    vec = bench_vectorised(payloads[: args.bundles], args.batch, args.repeats)
    ref = bench_cantools(payloads[: args.cantools_bundles], args.repeats)
    v, c = statistics.median(r[0] for r in vec), statistics.median(r[0] for r in ref)
    vw, cw = statistics.median(r[1] for r in vec), statistics.median(r[1] for r in ref)
    print(
        f"decoder benchmark: {N_CELLS} cells, {N_SENSORS} sensors, {frames} frames and "
        f"{len(payloads[0])} bytes per bus-second; {pinned}"
    )
    print(
        f"  vectorised  {v:12,.0f} bus-seconds per CPU-second ({v * frames:,.0f} frames/s); "
        f"wall {vw:,.0f}/s; batch {args.batch}, {args.bundles:,} bus-seconds x {args.repeats}"
    )
    print(
        f"  cantools    {c:12,.0f} bus-seconds per CPU-second ({c * frames:,.0f} frames/s); "
        f"wall {cw:,.0f}/s; {args.cantools_bundles:,} bus-seconds x {args.repeats}"
    )
    print(
        f"  speed-up    {v / c:12.1f}x    target >= 20,000 bus-seconds/s: "
        f"{'met' if v >= 20_000 else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "bus_seconds_per_s": round(v, 1),
                "cantools_bus_seconds_per_s": round(c, 1),
                "speedup_vs_cantools": round(v / c, 2),
                "bus_seconds_per_s_wall": round(vw, 1),
                "cantools_bus_seconds_per_s_wall": round(cw, 1),
                "frames_per_bus_second": frames,
                "cells": N_CELLS,
                "temperature_sensors": N_SENSORS,
                "batch": args.batch,
                "one_core": pinned,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
