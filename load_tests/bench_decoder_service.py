"""Decoder service throughput end to end: bus-seconds per second from CAN bundles to PackSamples.

A backlog of bundles (192-cell, 48-sensor bus-seconds, as in
``bench_decoder``) is loaded into a fresh CAN topic; then ``python -m
services.decoder`` runs as its own process against fresh output and
dead-letter topics, and the rate is read from its committed offsets: a
bundle counts once its PackSample is acknowledged by the broker and its
offset committed. The figure includes consuming, vectorised decoding, building
PackSamples, JSON encoding and idempotent produce; the broker shares the
machine's cores with the decoder.

The rate is taken between the first and the last commit (the decoder's start-up
and group join are printed apart). The decoder's own CPU time comes from
``/proc``, so the rate per CPU-second of the decoder is printed too.

Prints readable figures, then one JSON line. It measures, it never passes or
fails on time. Uses ``PACKWATCH_KAFKA_BOOTSTRAP_SERVERS`` (default: the local broker).

    .venv/bin/python -m load_tests.bench_decoder_service [--bundles 60000] [--partitions 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from load_tests.bench_decoder import make_payloads
from services.core.kafka import open_consumer, open_producer
from services.core.settings import PROJECT_ROOT, CoreSettings

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def load(bootstrap: str, topic: str, payloads: list[bytes]) -> float:
    """Produce the backlog; return seconds taken."""
    t0 = time.perf_counter()
    async with open_producer(bootstrap, linger_ms=20) as producer:
        pending = []
        for p in payloads:
            vid_len = p[3]
            pending.append(await producer.send(topic, key=p[4 : 4 + vid_len], value=p))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return time.perf_counter() - t0


async def total(bootstrap: str, topic: str, group: str | None, partitions: int) -> int:
    """Committed offsets of ``group`` (or end offsets when None), summed over partitions."""
    parts = [TopicPartition(topic, p) for p in range(partitions)]
    async with open_consumer(bootstrap, [], group_id=group) as c:
        if group is None:
            return sum((await c.end_offsets(parts)).values())
        return sum([(await c.committed(tp)) or 0 for tp in parts])


async def watch(
    bootstrap: str,
    topic: str,
    group: str,
    partitions: int,
    n: int,
    proc: asyncio.subprocess.Process,
) -> tuple[float, float, int, float]:
    """Poll commits until all ``n`` are committed: (t_first, t_last, first_count, cpu_at_first)."""
    t_first = cpu_first = 0.0
    first = 0
    parts = [TopicPartition(topic, p) for p in range(partitions)]
    async with open_consumer(bootstrap, [], group_id=group) as c:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"decoder exited with {proc.returncode}")
            done = sum([(await c.committed(tp)) or 0 for tp in parts])
            now = time.perf_counter()
            if done and not first:
                t_first, first, cpu_first = now, done, cpu_seconds(proc.pid)
            if done >= n:
                return t_first, now, first, cpu_first
            await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> dict[str, object]:
    bootstrap = CoreSettings().bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    can, out, dlq = f"bench.can.{tag}", f"bench.pack.{tag}", f"bench.dlq.{tag}"
    group = f"bench-decoder-{tag}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    await admin.create_topics(
        [NewTopic(t, args.partitions, 1) for t in (can, out)] + [NewTopic(dlq, 1, 1)]
    )
    try:
        payloads = make_payloads(args.bundles)
        load_s = await load(bootstrap, can, payloads)
        print(f"loaded {len(payloads):,} bundles ({sum(map(len, payloads)) / 1e6:.1f} MB) "
              f"in {load_s:.1f} s")  # fmt: skip
        env = dict(os.environ)
        env.update(
            PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            PACKWATCH_DECODER_TOPIC=can,
            PACKWATCH_DECODER_OUT_TOPIC=out,
            PACKWATCH_DECODER_DLQ_TOPIC=dlq,
            PACKWATCH_DECODER_GROUP_ID=group,
            PACKWATCH_DECODER_METRICS_PORT="-1",
            PACKWATCH_DECODER_BATCH_MAX_BUNDLES=str(args.batch),
            PACKWATCH_LOG_LEVEL="WARNING",
        )
        with tempfile.TemporaryFile() as log:
            t_start = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.decoder",
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            )  # fmt: skip
            try:
                t_first, t_last, first, cpu_first = await watch(
                    bootstrap, can, group, args.partitions, len(payloads), proc
                )
                cpu_last = cpu_seconds(proc.pid)
            finally:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 30)
        produced = await total(bootstrap, out, None, args.partitions)
        dead = await total(bootstrap, dlq, None, 1)
    finally:
        await admin.delete_topics([can, out, dlq])
        await admin.close()

    measured = len(payloads) - first
    span = t_last - t_first
    rate = measured / span
    cpu_rate = measured / max(cpu_last - cpu_first, 1e-9)
    print(f"start-up and group join: {t_first - t_start:.1f} s (first commit: {first:,} bundles)")
    print(f"steady: {measured:,} bundles in {span:.2f} s = {rate:,.0f} bus-seconds/s (wall)")
    print(f"decoder CPU: {cpu_last - cpu_first:.2f} s = {cpu_rate:,.0f} bus-seconds per CPU-second")
    print(f"PackSamples on the output topic: {produced:,}; dead letters: {dead:,}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    return {
        "bench": "decoder_service",
        "bus_seconds_per_s": round(rate),
        "bus_seconds_per_decoder_cpu_s": round(cpu_rate),
        "bundles": len(payloads),
        "measured_bundles": measured,
        "seconds": round(span, 3),
        "startup_s": round(t_first - t_start, 2),
        "samples_out": produced,
        "dead_letters": dead,
        "partitions": args.partitions,
        "batch_max_bundles": args.batch,
        "cores": os.cpu_count(),
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=60_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch", type=int, default=2000, help="decoder batch_max_bundles")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
