"""The simulation loop: step the fleet, encode, impair, send, pace, report progress.

:func:`run` drives one :class:`Fleet` into a :class:`~services.simulator.output.Sink`
at ``speed`` times real time (0 = as fast as possible). It is async so that the
Kafka producer and the pacing sleep share one event loop; the numpy work runs
inline between awaits (one tick of a 1000-bus fleet takes a few hundred ms at most).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.simulator.encode import encode_payloads
from services.simulator.fleet import Fleet
from services.simulator.output import Item, LabelWriter, Sink
from services.simulator.realism import Impairer
from services.simulator.samples import pack_samples


@dataclass
class RunStats:
    """What a run did: simulated seconds, messages, wall time and link impairments."""

    sim_s: float = 0.0
    ticks: int = 0
    messages: int = 0
    wall_s: float = 0.0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0

    @property
    def bus_seconds_per_s(self) -> float:
        """Throughput: simulated bus-seconds per wall second (needs the bus count)."""
        return self.sim_s / self.wall_s if self.wall_s else 0.0


Progress = Callable[[RunStats, float], None]


async def run(
    fleet: Fleet,
    sink: Sink,
    *,
    duration_s: float,
    speed: float = 1.0,
    mode: str = "can",
    dt: float = 1.0,
    labels: LabelWriter | None = None,
    truth_every_s: float = 600.0,
    progress: Progress | None = None,
    progress_every_s: float = 1.0,
) -> RunStats:
    """Simulate ``duration_s`` seconds into ``sink``; returns the run's statistics.

    ``mode`` is ``can`` (bundle payloads) or ``pack`` (PackSamples). ``speed``
    is the ratio of simulated to wall time; 0 runs flat out. Progress is
    reported to ``progress(stats, duration_s)`` about every ``progress_every_s``
    wall seconds and once at the end. ``sink.close()`` is the caller's job.
    """
    if mode not in ("can", "pack"):
        raise ValueError(f"mode must be can or pack, not {mode!r}")
    stats = RunStats()
    imp: Impairer[Item] = Impairer(fleet.config.realism, fleet.rng)
    t0 = time.monotonic()
    last_report = t0
    next_truth = 0.0
    p_frame = fleet.config.realism.p_frame_drop
    while stats.sim_s < duration_s - 1e-9:
        if labels is not None and stats.sim_s >= next_truth:
            labels.snapshot()
            next_truth += truth_every_s
        fleet.step(dt)
        items: list[Item] = []
        for r in fleet.readings():
            if mode == "can":
                payloads = encode_payloads(r, fleet.rng, p_frame)
                items.extend(zip(r.vehicle_ids, payloads, strict=True))
            else:
                items.extend(zip(r.vehicle_ids, pack_samples(r), strict=True))
        out = imp.apply(fleet.tick, items)
        await sink.write(out)
        stats.sim_s += dt
        stats.ticks += 1
        stats.messages += len(out)
        now = time.monotonic()
        if speed > 0:
            ahead = stats.sim_s / speed - (now - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
        else:
            await asyncio.sleep(0)  # let the producer's I/O run
        now = time.monotonic()
        stats.wall_s = now - t0
        if progress is not None and now - last_report >= progress_every_s:
            last_report = now
            progress(stats, duration_s)
    rest = imp.flush()
    if rest:
        await sink.write(rest)
        stats.messages += len(rest)
    stats.wall_s = time.monotonic() - t0
    stats.dropped, stats.duplicated, stats.delayed = imp.dropped, imp.duplicated, imp.delayed
    if labels is not None:
        labels.snapshot()
    if progress is not None:
        progress(stats, duration_s)
    return stats
