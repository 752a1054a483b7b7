"""``packwatch simulate``: run a simulated fleet into Kafka or files.

    packwatch simulate --buses 24 --speed 1 --duration 1h --out kafka
    packwatch simulate --buses 10 --speed 0 --duration 1d --out file --mode pack \\
        --faults "cooling_failure:BUS-0003@2h:severity=0.8,self_heating_cell:random" --seed 7

``--duration`` takes 90s / 15m / 2h / 1d (default: until Ctrl-C, i.e. ten
years); ``--speed`` is simulated seconds per wall second, 0 = as fast as
possible; ``--faults`` is the SPEC of :mod:`services.simulator.faults`;
``--start`` an ISO 8601 instant (default now). Labels (fault windows and
per-cell truth) go to ``--out-dir`` in every mode; with ``--out file`` the
data goes there too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from services.simulator.faults import FaultSpecError, parse_duration, parse_spec
from services.simulator.fleet import Fleet, FleetConfig
from services.simulator.output import FileSink, LabelWriter, Sink
from services.simulator.run import RunStats
from services.simulator.run import run as run_fleet

_FOREVER_S = 10 * 365 * 86400.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` subcommand to the ``packwatch`` command line."""
    p = subparsers.add_parser(
        "simulate",
        help="run a simulated e-bus fleet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--buses", type=int, default=24, help="number of demo buses (default 24)")
    p.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = flat out")
    p.add_argument("--duration", default=None, help="simulated time, e.g. 1h (default: unbounded)")
    p.add_argument("--faults", default="", help="fault SPEC (see services/simulator/README.md)")
    p.add_argument("--out", choices=("kafka", "file"), default="kafka")
    p.add_argument(
        "--mode",
        choices=("can", "pack"),
        default="can",
        help="CAN bundles to telemetry.can.v1, or PackSamples to telemetry.pack.v1",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", default=None, help="ISO 8601 start instant (default now, UTC)")
    p.add_argument("--out-dir", type=Path, default=Path("sim-out"))
    p.add_argument("--topic", default=None, help="override the Kafka topic")
    p.add_argument("--dt", type=float, default=1.0, help="simulation step, s (default 1)")
    p.set_defaults(func=run)


def _parse_start(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


class _Progress:
    """One line rewritten on a terminal; a line every 10 s otherwise."""

    def __init__(self, buses: int) -> None:
        self.buses = buses
        self.tty = sys.stderr.isatty()
        self.last = -1e9

    def __call__(self, s: RunStats, duration_s: float) -> None:
        if not self.tty and s.wall_s - self.last < 10.0 and s.sim_s < duration_s:
            return
        self.last = s.wall_s
        pct = "" if duration_s >= _FOREVER_S else f" {100 * s.sim_s / duration_s:5.1f}%"
        rate = self.buses * s.sim_s / s.wall_s if s.wall_s else 0.0
        line = (
            f"simulate:{pct} t={s.sim_s / 3600:7.2f} h  msgs={s.messages}  "
            f"x{s.sim_s / max(s.wall_s, 1e-9):.1f} real time  {rate:,.0f} bus-s/s"
        )
        if self.tty:
            sys.stderr.write("\r" + line)
            if s.sim_s >= duration_s:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


async def _main(args: argparse.Namespace) -> RunStats:
    from schemas.topics import CAN_RAW, PACK_SAMPLES

    duration = parse_duration(args.duration) if args.duration else _FOREVER_S
    config = FleetConfig(
        buses=args.buses,
        start=_parse_start(args.start),
        seed=args.seed,
        faults=parse_spec(args.faults),
        horizon_s=min(duration, 30 * 86400.0),
    )
    fleet = Fleet(config)
    labels = LabelWriter(args.out_dir, fleet)
    progress = _Progress(args.buses)
    try:
        if args.out == "file":
            sink: Sink = FileSink(args.out_dir)
            try:
                return await run_fleet(
                    fleet,
                    sink,
                    duration_s=duration,
                    speed=args.speed,
                    mode=args.mode,
                    dt=args.dt,
                    labels=labels,
                    progress=progress,
                )
            finally:
                await sink.close()
        from services.core.kafka import open_producer
        from services.core.settings import CoreSettings
        from services.simulator.output import KafkaSink

        topic = args.topic or (CAN_RAW.name if args.mode == "can" else PACK_SAMPLES.name)
        async with open_producer(CoreSettings().bootstrap_servers) as producer:
            return await run_fleet(
                fleet,
                KafkaSink(producer, topic),
                duration_s=duration,
                speed=args.speed,
                mode=args.mode,
                dt=args.dt,
                labels=labels,
                progress=progress,
            )
    finally:
        labels.close()


def run(args: argparse.Namespace) -> int:
    """Run ``packwatch simulate``; 0 on success, 2 on a bad argument, 130 on Ctrl-C."""
    try:
        stats = asyncio.run(_main(args))
    except (FaultSpecError, ValueError) as exc:
        print(f"packwatch simulate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(
        f"simulated {stats.sim_s:.0f} s of {args.buses} buses: {stats.messages} messages "
        f"in {stats.wall_s:.1f} s (dropped {stats.dropped}, duplicated {stats.duplicated}, "
        f"delayed {stats.delayed})"
    )
    return 0
