"""Scoring benchmark: scored samples per second on one core, and fault-to-event delay.

1. Throughput: PackSamples of a simulated fleet (1 s steps), encoded as on the
   topic, are decoded and scored in batches of 2,000 (the service's default) by
   one :class:`~services.scoring.scorer.Scorer` with one onnxruntime thread,
   the process pinned to one core. The fleet is first scored through the
   35 minutes of history the models need before they judge a pack; the timed
   ten minutes then run every model, the state-of-health ones included (once
   per bus in ten minutes). Baselines, same run, same scorer, on the samples
   that follow: one message a pass (what batching saves), and one message a
   pass scored through every model each time (one model call per message,
   what the issue rules out).
2. Delay: a fleet with one fault on BUS-0001 is fed at 5,000 samples/s (the
   simulator paced to wall time, batches closed every 200 ms as the consumer
   does); reports the wall time and the vehicle time from the fault's first
   sample to its AnomalyEvent. Twice: an internal short of severity 0.9, in
   the severe band the issue's 5-minute target is for (this bus's cell passes
   55 degC within the hour: ~73 degC), and a stopped pump, which at this bus's
   load is not (its hottest cell stays under 34 degC). In process, without the broker:
   the broker adds its own few milliseconds, measured by the ingest benchmark.

Prints figures, then one JSON line last. ``python -m load_tests.bench_scoring``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime

from models.findings import SCORE_EVERY_S
from models.onnx_io import ONNX_DIR
from schemas.messages import encode
from services.core.service_cli import tune_gc
from services.scoring.samples import decode_scoring_samples
from services.scoring.scorer import Scorer
from services.simulator import Fleet, FleetConfig, pack_samples

START = datetime(2026, 5, 4, 4, tzinfo=UTC)


def _encoded(fleet: Fleet, seconds: int) -> list[bytes]:
    out = []
    for rs in fleet.run(seconds, 1.0):
        out += [encode(s) for r in rs for s in pack_samples(r)]
    return out


def _timed(scorer: Scorer, fleet: Fleet, seconds: int, batch: int) -> tuple[int, float, float]:
    """Samples, wall s and CPU s of decoding and scoring the fleet's next ``seconds``
    in ``batch``es; encoded a minute at a time, outside the timing, to bound memory."""
    n, wall, cpu = 0, 0.0, 0.0
    for done in range(0, seconds, 60):
        payloads = _encoded(fleet, min(60, seconds - done))
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(0, len(payloads), batch):
            scorer.run_pass(decode_scoring_samples(payloads[k : k + batch])[0])
        n, wall, cpu = (
            n + len(payloads),
            wall + time.perf_counter() - t0,
            cpu + time.process_time() - c0,
        )
    return n, wall, cpu


def throughput(
    buses: int, seconds: int, batch: int = 2000, history_s: int = 2100
) -> dict[str, float]:
    """Decode + score once the packs' history has settled; then the two baselines."""
    fleet = Fleet(FleetConfig(buses=buses, seed=11, start=START, soc0=0.8))
    scorer = Scorer(ONNX_DIR, threads=1)
    for done in range(0, history_s, 300):  # not timed
        _timed(scorer, fleet, min(300, history_s - done), batch)
        print(f"  history: {min(done + 300, history_s)} of {history_s} s", flush=True)
    out: dict[str, float] = {}
    for name, secs, size, every in (
        ("batched", seconds, batch, SCORE_EVERY_S),
        ("one_message_a_pass", 20, 1, SCORE_EVERY_S),
        ("every_message_every_model", 10, 1, 0.0),
    ):
        scorer.score_every_s = every
        n, wall, cpu = _timed(scorer, fleet, secs, size)
        out |= {f"{name}_samples": n, f"{name}_per_s": n / wall, f"{name}_cpu_us": 1e6 * cpu / n}
        print(f"  {name}: {n} samples, {n / wall:,.0f} samples/s, {1e6 * cpu / n:.1f} µs of CPU "
              "a sample", flush=True)  # fmt: skip
    return out


#: The delay runs' faults on BUS-0001 (``{at}``: onset, s), by the event kind they raise.
DELAY_FAULTS = {
    "self_heating_cell": "self_heating_cell:BUS-0001@{at}s:severity=0.9",
    "cooling_failure": "cooling_failure:BUS-0001@{at}s:mode=pump:severity=1.0",
}


def delay(
    buses: int, rate: float, kind: str, fault_at_s: int, run_s: int
) -> dict[str, float | None]:
    """Paced feed with the ``kind`` fault of DELAY_FAULTS on BUS-0001; delays to its event."""
    faults = DELAY_FAULTS[kind].format(at=fault_at_s)
    fleet = Fleet(FleetConfig(buses=buses, seed=12, start=START, faults=faults, soc0=0.8))
    scorer = Scorer(ONNX_DIR, threads=1)
    pending: list[bytes] = []
    sent = 0
    t_start = time.perf_counter()
    last_close = t_start
    fault_wall: float | None = None
    fault_ts: float | None = None
    for rs in fleet.run(run_s, 1.0):
        samples = [s for r in rs for s in pack_samples(r)]
        if fault_wall is None and fleet.t_s > fault_at_s:
            fault_wall = time.perf_counter()
            fault_ts = next(s.ts.timestamp() for s in samples if s.vehicle_id == "BUS-0001")
        pending += [encode(s) for s in samples]
        sent += len(samples)
        # Pace: never ahead of `rate` samples per wall second.
        ahead = sent / rate - (time.perf_counter() - t_start)
        if ahead > 0:
            time.sleep(ahead)
        now = time.perf_counter()
        if now - last_close >= 0.2:
            last_close = now
            res = scorer.run_pass(decode_scoring_samples(pending)[0])
            pending.clear()
            for e in res.events:
                if e.vehicle_id == "BUS-0001" and e.kind.value == kind:
                    assert fault_wall is not None and fault_ts is not None
                    return {"wall_delay_s": time.perf_counter() - fault_wall,
                            "vehicle_delay_s": e.ts.timestamp() - fault_ts,
                            "achieved_rate": sent / (time.perf_counter() - t_start)}  # fmt: skip
    return {"wall_delay_s": None, "vehicle_delay_s": None,
            "achieved_rate": sent / (time.perf_counter() - t_start)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buses", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--rate", type=float, default=5000.0)
    # After the 30 minutes of history the models need before they judge a pack.
    ap.add_argument("--fault-at", type=int, default=2100)
    ap.add_argument("--run", type=int, default=3600)
    args = ap.parse_args()
    tune_gc()  # as `packwatch scoring` runs (services.core.service_cli)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    tp = throughput(args.buses, args.seconds)
    rate = tp["batched_per_s"]
    print(f"throughput: {tp['batched_samples']:.0f} samples, {rate:,.0f} scored samples/s on one "
          f"core, {tp['batched_cpu_us']:.1f} µs of CPU a sample; baselines in the same run: one "
          f"message a pass {tp['one_message_a_pass_per_s']:,.0f}/s "
          f"({rate / tp['one_message_a_pass_per_s']:.1f}x slower), every message through every "
          f"model {tp['every_message_every_model_per_s']:,.0f}/s "
          f"({rate / tp['every_message_every_model_per_s']:.1f}x slower)")  # fmt: skip
    # 5,000 samples/s is 5,000 buses at 1 Hz; a smaller fleet replayed faster than
    # real time gives the same load per second with a simulator that keeps up.
    dl = {}
    for kind, what in (
        ("self_heating_cell", "a severe internal short (target 300 s)"),
        ("cooling_failure", "a stopped pump (not severe at this load)"),
    ):
        d = dl[kind] = delay(max(1, args.buses // 4), args.rate, kind, args.fault_at, args.run)
        print(
            f"delay at {d['achieved_rate']:,.0f} samples/s, {what}: wall {d['wall_delay_s']} s, "
            f"vehicle time {d['vehicle_delay_s']} s from the fault's first sample to its event"
        )
    short, pump = dl["self_heating_cell"], dl["cooling_failure"]
    print(json.dumps({"scored_samples_per_s": round(rate),
                      "cpu_us_per_sample": round(tp["batched_cpu_us"], 1),
                      "baseline_one_message_a_pass_per_s": round(tp["one_message_a_pass_per_s"]),
                      "baseline_every_message_every_model_per_s": round(
                          tp["every_message_every_model_per_s"]),
                      "short_to_event_wall_s": short["wall_delay_s"],
                      "short_to_event_vehicle_s": short["vehicle_delay_s"],
                      "pump_to_event_wall_s": pump["wall_delay_s"],
                      "pump_to_event_vehicle_s": pump["vehicle_delay_s"],
                      "feed_rate_samples_per_s": round(short["achieved_rate"] or 0)}))  # fmt: skip


if __name__ == "__main__":
    main()
