"""Notification delivery: a receiver that fails then recovers, one that never does, e-mail.

Notifications are queued by the applier on the real database and delivered
by the notifier to a local aiohttp receiver and a local aiosmtpd server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from services.alerts import render
from services.alerts.apply import Applier, Clock
from services.alerts.channels import Email, Webhook
from services.alerts.lifecycle import Policy
from services.alerts.metric_defs import AlertMetrics, new_alert_metrics
from services.alerts.notify import Notifier, RetryPolicy
from services.alerts.routes_admin import Route
from tests.integration.test_alerts_support import add_route, event, fetch, prepare, receiver

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=30, initial_s=0.1, max_s=0.3, lease_s=10)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await prepare(database)
    async with asyncpg.create_pool(database, min_size=1, max_size=4) as p:
        yield p


async def open_alerts(pool: asyncpg.Pool, metrics: AlertMetrics, n: int) -> None:
    applier = Applier(pool, Policy(), render.Links("http://api"), metrics, Clock())
    t0 = datetime.now(UTC) - timedelta(minutes=1)
    await applier.apply([event("BUS-0001", t0, sensor=s) for s in range(n)])


async def drain(notifier: Notifier, pool: asyncpg.Pool, limit_s: float = 20.0) -> None:
    """Run notifier passes until nothing is pending (or time runs out)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await notifier.run_once()
        if not await pool.fetchval(
            "SELECT count(*) FROM alert_notifications WHERE state='pending'"
        ):
            return
        await asyncio.sleep(0.05)


async def test_a_receiver_that_fails_then_recovers_gets_each_notification_once(
    pool: asyncpg.Pool, database: str
) -> None:
    metrics = new_alert_metrics()
    async with receiver(failing=True) as hook, aiohttp.ClientSession() as session:
        await add_route(database, Route("crew", "webhook", "teams", hook.url))
        await open_alerts(pool, metrics, 3)
        notifier = Notifier(pool, {"webhook": Webhook(session, 2.0)}, FAST, metrics)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # the receiver is down for a while
            await notifier.run_once()
            await asyncio.sleep(0.05)
        assert hook.refused >= 3 and not hook.received
        hook.failing = False
        await drain(notifier, pool)
    keys = hook.keys()
    assert len(keys) == 3 and len(set(keys)) == 3
    rows = await fetch(database, "SELECT state, attempts FROM alert_notifications")
    assert all(r["state"] == "sent" and r["attempts"] >= 2 for r in rows)
    card = hook.received[0][1]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][1]["facts"]}
    assert facts["Vehicle"] == "BUS-0001" and facts["Depot"] == "CHN-MDV"
    assert facts["Position"].startswith("sensor ")


async def test_a_receiver_that_never_recovers_leaves_a_visible_dead_letter(
    pool: asyncpg.Pool, database: str
) -> None:
    metrics = new_alert_metrics()
    retry = RetryPolicy(max_attempts=3, initial_s=0.05, max_s=0.1, lease_s=10)
    async with receiver(failing=True) as hook, aiohttp.ClientSession() as session:
        await add_route(database, Route("gone", "webhook", "json", hook.url))
        await open_alerts(pool, metrics, 1)
        notifier = Notifier(pool, {"webhook": Webhook(session, 2.0)}, retry, metrics)
        await drain(notifier, pool)
    assert hook.refused == 3
    row = (await fetch(database, "SELECT state, attempts, last_error FROM alert_notifications"))[0]
    assert row["state"] == "dead" and row["attempts"] == 3
    assert "503" in row["last_error"]
    assert metrics.pipeline.registry.get_sample_value("packwatch_alert_notifications_dead") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler keeping every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


async def test_email_over_smtp_says_what_where_how_bad_and_links(
    pool: asyncpg.Pool, database: str
) -> None:
    inbox = Inbox()
    port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        await add_route(database, Route("mail", "email", "email", "crew@depot.example"))
        metrics = new_alert_metrics()
        await open_alerts(pool, metrics, 1)
        channel = Email("127.0.0.1", port, "packwatch@fleet.example", timeout_s=5)
        notifier = Notifier(pool, {"email": channel}, FAST, metrics)
        await drain(notifier, pool)
    finally:
        smtp.stop()
    assert len(inbox.messages) == 1
    to, msg = inbox.messages[0]
    assert to == ["crew@depot.example"]
    assert "CRITICAL cooling failure on BUS-0001" in msg["Subject"]
    text = msg.get_payload(decode=True).decode()
    for needle in ("Depot:     CHN-MDV", "Position:  sensor 0 (cells", "coolant_outlet_c = 41.5",
                   "http://api/v1/vehicles/BUS-0001"):  # fmt: skip
        assert needle in text
    assert msg["X-Packwatch-Idempotency-Key"].endswith(":1")
