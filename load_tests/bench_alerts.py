"""Benchmark: AnomalyEvent to webhook delivery, p50/p99, with background telemetry load.

    make bench-alerts            (or: python -m load_tests.bench_alerts)

1. A fresh database with the demo fleet and one webhook route (generic JSON)
   to a receiver in this process; fresh anomaly, alert and background topics.
2. ``python -m services.alerts`` runs as its own process.
3. Background: PackSamples offered to their own topic at 5,000/s for the
   whole run (broker and database share this machine with the service).
4. Foreground: ``BENCH_ALERTS_EVENTS`` AnomalyEvents, each a new alert key,
   at 5/s. Latency = the webhook's arrival time minus the event's send time.
Figures, never a verdict; the JSON line with ``p50_ms`` and ``p99_ms`` is last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from load_tests.common import ensure_stack, fresh_database, percentile, report
from schemas.common import AnomalyKind, Severity
from schemas.events import AnomalyEvent
from schemas.messages import encode
from schemas.synthetic import payloads
from services.alerts import routes_admin
from services.core import dbadmin
from services.core.kafka import open_producer
from services.core.settings import PROJECT_ROOT, CoreSettings

N_EVENTS = int(os.environ.get("BENCH_ALERTS_EVENTS", "150"))
EVENT_RATE = 5.0
BACKGROUND_RATE = 5000
VEHICLES = [f"BUS-{i:04d}" for i in range(1, 25)]


async def _topics(bootstrap: str) -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:8]
    names = (f"bench.anom.{tag}", f"bench.alerts.{tag}", f"bench.pack.{tag}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=6, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()
    return names


async def _background(bootstrap: str, topic: str, stop: asyncio.Event) -> tuple[int, float]:
    """PackSamples at BACKGROUND_RATE/s until stopped; returns (samples sent, seconds)."""
    start = datetime.now(UTC).replace(microsecond=0)
    second = list(payloads(VEHICLES * 50, start, 5, cells=24, sensors=8))[:BACKGROUND_RATE]
    sent = 0
    began = time.monotonic()
    async with open_producer(bootstrap, linger_ms=20) as producer:
        while not stop.is_set():
            t = time.monotonic()
            futures = [await producer.send(topic, key=k, value=v) for k, v, _ in second]
            await asyncio.gather(*futures)
            sent += len(futures)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    return sent, time.monotonic() - began


def _event(i: int) -> AnomalyEvent:
    now = datetime.now(UTC)
    return AnomalyEvent(
        event_id=f"bench-{uuid.uuid4().hex}",
        vehicle_id=VEHICLES[i % len(VEHICLES)],
        ts=now,
        detected_at=now,
        kind=AnomalyKind.SELF_HEATING_CELL,
        severity=Severity.CRITICAL,
        cell_index=i,  # a new location each time: every event opens an alert
        score=0.9,
        evidence={"cell_temp_c": 58.0, "neighbour_mean_c": 41.0},
        model_version="bench",
    )


async def main() -> None:
    core = CoreSettings()
    await ensure_stack(core)
    dsn = await fresh_database(core, "packwatch_bench_alerts")
    await dbadmin.seed(dsn, "demo")
    anomalies, alerts, background = await _topics(core.bootstrap_servers)
    arrived: dict[tuple[str, int], float] = {}
    all_arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        arrived[(body["vehicle_id"], body["cell_index"])] = time.monotonic()
        if len(arrived) >= N_EVENTS:
            all_arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn = await asyncpg.connect(dsn)
    try:
        url = f"http://127.0.0.1:{port}/hook"
        await routes_admin.add(conn, routes_admin.Route("bench", "webhook", "json", url))
    finally:
        await conn.close()
    env = dict(os.environ)
    env.update(
        PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=core.bootstrap_servers,
        DATABASE_URL=dsn,
        PACKWATCH_ALERTS_TOPIC=anomalies,
        PACKWATCH_ALERTS_ALERTS_TOPIC=alerts,
        PACKWATCH_ALERTS_GROUP_ID=f"bench-{uuid.uuid4().hex[:6]}",
        PACKWATCH_ALERTS_METRICS_PORT="-1",
        PACKWATCH_LOG_LEVEL="WARNING",
    )
    service = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.alerts", env=env, cwd=PROJECT_ROOT
    )
    stop = asyncio.Event()
    load = asyncio.create_task(_background(core.bootstrap_servers, background, stop))
    sent_at: dict[tuple[str, int], float] = {}
    try:
        async with open_producer(core.bootstrap_servers, linger_ms=0) as producer:
            await asyncio.sleep(5.0)  # the service joins its group; background load settles
            for i in range(N_EVENTS):
                ev = _event(i)
                sent_at[(ev.vehicle_id, i)] = time.monotonic()
                await producer.send(anomalies, key=ev.vehicle_id.encode(), value=encode(ev))
                await asyncio.sleep(1.0 / EVENT_RATE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_arrived.wait(), 30)
    finally:
        stop.set()
        background_sent, background_s = await load
        service.terminate()
        await asyncio.wait_for(service.wait(), 30)
        await runner.cleanup()
    lat = [(arrived[k] - t) * 1000 for k, t in sent_at.items() if k in arrived]
    report(
        "alerts: AnomalyEvent → webhook delivery",
        {
            "events": N_EVENTS,
            "delivered": len(lat),
            "event_rate_per_s": EVENT_RATE,
            "background_samples": background_sent,
            "background_rate_per_s": round(background_sent / max(1.0, background_s), 1),
            "p50_ms": round(percentile(lat, 50), 1),
            "p99_ms": round(percentile(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
