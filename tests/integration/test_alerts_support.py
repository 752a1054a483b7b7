"""What the alerts tests share: a prepared database, events, a running service, a receiver.

No test lives here. The webhook receiver is a small aiohttp server on a
loopback port that can be told to fail; it records every request it accepted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaConsumer

from schemas.common import AnomalyKind, ConditionState, Severity
from schemas.db import migrate
from schemas.events import AlertEvent, AnomalyEvent
from schemas.messages import decode_alert_event, encode
from services.alerts import routes_admin
from services.alerts.app import alerts_service
from services.alerts.apply import Clock
from services.alerts.service import AlertsService
from services.alerts.settings import AlertsSettings
from services.core import dbadmin
from services.core.kafka import open_producer
from services.core.settings import PROJECT_ROOT, CoreSettings
from tests.conftest import NewTopicFactory

BUSES = 6  # demo fleet: BUS-0001 … BUS-0006, two per depot
HOME = "CHN-MDV"  # depot of BUS-0001 and BUS-0004


async def prepare(dsn: str) -> None:
    """Migrate and seed the demo fleet."""
    await asyncio.to_thread(migrate.upgrade, dsn)
    await dbadmin.seed(dsn, "demo", buses=BUSES)


async def fresh(dsn: str, new_topic: NewTopicFactory) -> tuple[str, str]:
    """A prepared database (see :func:`prepare`), and new anomalies and alerts topics."""
    topics = await new_topic("anom", 3), await new_topic("alerts", 3)
    await prepare(dsn)
    return topics


async def add_route(dsn: str, route: routes_admin.Route) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await routes_admin.add(conn, route)
    finally:
        await conn.close()


def event(
    vehicle: str,
    ts: datetime,
    *,
    kind: AnomalyKind = AnomalyKind.COOLING_FAILURE,
    severity: Severity = Severity.CRITICAL,
    active: bool = True,
    cell: int | None = None,
    sensor: int | None = None,
    event_id: str | None = None,
    raised: bool = False,
) -> AnomalyEvent:
    state = ConditionState.ACTIVE if active else ConditionState.CLEARED
    where = f"c{cell}" if cell is not None else f"s{sensor}"
    return AnomalyEvent(
        event_id=event_id or f"{vehicle}:{kind.value}:{where}:{state.value}:{ts.isoformat()}",
        vehicle_id=vehicle,
        pack_id=None,
        ts=ts,
        detected_at=ts,
        kind=kind,
        severity=severity,
        state=state,
        cell_index=cell,
        sensor_index=sensor,
        score=0.93,
        evidence={"coolant_outlet_c": 41.5, "coolant_delta_t_c": 9.8, "threshold_c": 6.0},
        model_version="rules-1",
        raised=raised,
    )


async def produce(bootstrap: str, topic: str, events: Iterable[AnomalyEvent]) -> int:
    """Send events keyed by vehicle id; wait for every acknowledgement."""
    n = 0
    async with open_producer(bootstrap) as producer:
        futures = []
        for ev in events:
            futures.append(await producer.send(topic, key=ev.vehicle_id.encode(), value=encode(ev)))
            n += 1
        await asyncio.gather(*futures)
    return n


def settings_for(
    bootstrap: str, dsn: str, anomalies: str, alerts: str, **overrides: Any
) -> tuple[CoreSettings, AlertsSettings]:
    core = CoreSettings(kafka_bootstrap_servers=bootstrap, database_url=dsn)
    values: dict[str, Any] = {
        "topic": anomalies,
        "alerts_topic": alerts,
        "group_id": f"g-{uuid.uuid4().hex[:8]}",
        "metrics_port": -1,
        "relay_interval_s": 0.1,
        "notify_interval_s": 0.1,
        "sweep_interval_s": 0.2,
        "notify_backoff_initial_s": 0.2,
        "notify_backoff_max_s": 1.0,
        "api_base_url": "http://packwatch.test",
    }
    values.update(overrides)
    return core, AlertsSettings(**values)


@asynccontextmanager
async def running(
    core: CoreSettings, settings: AlertsSettings, clock: Clock | None = None
) -> AsyncIterator[AlertsService]:
    """The alerts service in this event loop for the block; stopped cleanly after."""
    stop = asyncio.Event()
    async with alerts_service(core, settings, clock) as service:
        task = asyncio.create_task(service.run(stop))
        try:
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


def alerts_process(
    core: CoreSettings, settings: AlertsSettings, log: Path, **extra: str
) -> subprocess.Popen[bytes]:
    """``python -m services.alerts`` as its own process, configured like ``settings``."""
    env = dict(os.environ)
    env.update(
        PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=core.bootstrap_servers,
        DATABASE_URL=core.dsn,
        PACKWATCH_LOG_JSON="true",
    )
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"PACKWATCH_ALERTS_{name.upper()}"] = str(value)
    env.update(extra)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.alerts"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


async def scalar(dsn: str, sql: str, *args: Any) -> Any:
    return (await fetch(dsn, sql, *args))[0][0]


async def wait_until(dsn: str, sql: str, expected: Any, limit_s: float = 30.0) -> Any:
    """Poll ``sql``'s scalar until it equals ``expected`` (or time runs out); return it."""
    deadline = time.monotonic() + limit_s
    got = await scalar(dsn, sql)
    while got != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        got = await scalar(dsn, sql)
    return got


async def read_alerts(
    bootstrap: str, topic: str, quiet_s: float = 2.0
) -> list[tuple[bytes, AlertEvent, dict[str, bytes]]]:
    """Every message on ``topic`` from the start until it has been quiet for ``quiet_s``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",  # a new group reads from the start
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        out: list[tuple[bytes, AlertEvent, dict[str, bytes]]] = []
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = await consumer.getmany(timeout_ms=200)
            if not consumer.assignment():
                last = time.monotonic()  # still joining: quiet counts from the assignment
                continue
            for messages in batch.values():
                for m in messages:
                    out.append((m.key, decode_alert_event(m.value), dict(m.headers)))
                    last = time.monotonic()
        return out
    finally:
        await consumer.stop()


@dataclass
class Receiver:
    """A webhook receiver on a loopback port; ``failing`` makes it answer 503."""

    failing: bool = False
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    url: str = ""

    def keys(self) -> list[str]:
        return [k for k, _ in self.received]


@asynccontextmanager
async def receiver(failing: bool = False) -> AsyncIterator[Receiver]:
    """A running :class:`Receiver` for the block."""
    state = Receiver(failing=failing)

    async def hook(request: web.Request) -> web.Response:
        if state.failing:
            state.refused += 1
            return web.Response(status=503, text="down for maintenance")
        state.received.append((request.headers["Idempotency-Key"], await request.json()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    state.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
    try:
        yield state
    finally:
        await runner.cleanup()
