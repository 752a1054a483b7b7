"""Notification delivery: a receiver that fails then recovers, one that never does, e-mail.

Notifications are queued by the applier on the real database and delivered
by the notifier to a local aiohttp receiver and a local aiosmtpd server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from services.alerts.cli import notifications_command
from services.alerts.lifecycle import Policy
from services.alerts.metric_defs import AlertMetrics, new_alert_metrics
from services.alerts.notify import Notifier, RetryPolicy
from services.alerts.routes_admin import Route
from services.cli import main as cli_main
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


async def test_dead_notifications_go_again_once_their_route_is_fixed(
    pool: asyncpg.Pool, database: str
) -> None:
    metrics = new_alert_metrics()
    retry = RetryPolicy(max_attempts=2, initial_s=0.05, max_s=0.1, lease_s=10)

    async def command(action: str, *ids: int, all_: bool = False, route: str | None = None
                      ) -> tuple[int, list[str]]:  # fmt: skip
        args = argparse.Namespace(action=action, ids=list(ids), all=all_, route=route)
        return await notifications_command(database, args)

    async with (
        receiver(failing=True) as broken,
        receiver() as fixed,
        aiohttp.ClientSession() as session,
    ):
        await add_route(database, Route("crew", "webhook", "json", broken.url))
        await add_route(database, Route("depot-mail", "email", "email", "ops@example.org"))
        await open_alerts(pool, metrics, 3)
        notifier = Notifier(pool, {"webhook": Webhook(session, 2.0)}, retry, metrics)
        await drain(notifier, pool)  # no e-mail channel: those die at once
        code, lines = await command("dead", route="crew")
        crew = [json.loads(line) for line in lines]
        assert code == 0 and len(crew) == 3 and {d["route_id"] for d in crew} == {"crew"}
        assert all(d["attempts"] == 2 and "503" in d["last_error"] for d in crew)
        ids = [d["notification_id"] for d in crew]
        keys = await fetch(database, "SELECT change_key FROM alert_notifications "
                           "WHERE notification_id = ANY($1::bigint[])", ids)  # fmt: skip

        # The route is pointed at a working receiver; one notification is sent by id.
        await add_route(database, Route("crew", "webhook", "json", fixed.url))
        code, lines = await command("requeue", ids[0])
        assert (code, lines) == (0, [f"requeued 1: {ids[0]}"])
        await drain(notifier, pool)
        assert len(fixed.received) == 1
        sent = await fetch(database, "SELECT state FROM alert_notifications "
                           "WHERE notification_id = $1", ids[0])  # fmt: skip
        assert sent[0]["state"] == "sent"

        # Asked again by id, a sent one is refused with the reason; the rest go with --all.
        code, lines = await command("requeue", ids[0], 999_999)
        assert code == 1
        assert lines == ["requeued 0: -", f"skipped {ids[0]}: not dead (state sent)",
                         "no notification 999999"]  # fmt: skip
        # A route that no longer covers the alert's depot, or is disabled, sends nothing.
        await add_route(database, Route("crew", "webhook", "json", fixed.url, "MUM-WDL"))
        code, lines = await command("requeue", ids[1])
        assert (code, lines) == (1, ["requeued 0: -", f"skipped {ids[1]}: its route now covers "
                                     "depot MUM-WDL only, the alert is of CHN-MDV"])  # fmt: skip
        await add_route(database, Route("crew", "webhook", "json", fixed.url))
        await pool.execute("UPDATE alert_routes SET enabled = false WHERE route_id = 'crew'")
        code, lines = await command("requeue", ids[1])
        assert (code, lines) == (1, ["requeued 0: -", f"skipped {ids[1]}: its route is disabled"])
        await add_route(database, Route("crew", "webhook", "json", fixed.url))  # enabled again
        code, lines = await command("requeue", all_=True, route="crew")
        assert (code, lines) == (0, [f"requeued 2: {ids[1]}, {ids[2]}"])
        await drain(notifier, pool)

        # An e-mail requeued to a new address records that address as its recipient.
        await add_route(database, Route("depot-mail", "email", "email", "night@example.org"))
        first_mail = await pool.fetchval("SELECT min(notification_id) FROM alert_notifications "
                                         "WHERE route_id = 'depot-mail'")  # fmt: skip
        assert await command("requeue", first_mail) == (0, [f"requeued 1: {first_mail}"])
        moved = await fetch(database, "SELECT target, body->>'to' AS to FROM alert_notifications "
                            "WHERE notification_id = $1", first_mail)  # fmt: skip
        assert [tuple(r) for r in moved] == [("night@example.org", "night@example.org")]
        await drain(notifier, pool)  # still no e-mail channel: it dies again

        # A dead notification whose route is gone stays dead, with the reason.
        await pool.execute("DELETE FROM alert_routes WHERE route_id = 'depot-mail'")
        code, lines = await command("requeue", all_=True)
        mail = await fetch(database, "SELECT notification_id, state FROM alert_notifications "
                           "WHERE route_id = 'depot-mail' ORDER BY notification_id")  # fmt: skip
        assert code == 1 and len(mail) == 3 and {r["state"] for r in mail} == {"dead"}
        assert lines == ["requeued 0: -"] + [
            f"skipped {r['notification_id']}: its route was removed" for r in mail
        ]
    assert broken.refused == 6
    assert sorted(fixed.keys()) == sorted(r["change_key"] for r in keys)
    rows = await fetch(database, "SELECT state, attempts, last_error, target "
                       "FROM alert_notifications WHERE route_id = 'crew'")  # fmt: skip
    assert all(r["state"] == "sent" and r["attempts"] == 1 and r["last_error"] is None
               and r["target"] == fixed.url for r in rows)  # fmt: skip


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


def test_an_admin_command_on_an_unmigrated_or_unreachable_database_says_what_to_do(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DATABASE_URL", "PACKWATCH_DATABASE_URL"):
        monkeypatch.setenv(name, database)
    assert cli_main(["alert-notifications", "dead"]) == 2
    err = capsys.readouterr().err
    assert "alert_notifications" in err and "run `packwatch db migrate`" in err
    assert "Traceback" not in err
    for name in ("DATABASE_URL", "PACKWATCH_DATABASE_URL"):
        monkeypatch.setenv(name, f"postgresql://postgres@127.0.0.1:{_free_port()}/packwatch")
    assert cli_main(["alert-routes", "list"]) == 2
    assert "cannot reach the database" in capsys.readouterr().err
    # "localhost" tries ::1 and 127.0.0.1: the refusal comes as one OSError of both.
    for name in ("DATABASE_URL", "PACKWATCH_DATABASE_URL"):
        monkeypatch.setenv(name, f"postgresql://postgres@localhost:{_free_port()}/packwatch")
    assert cli_main(["token", "list"]) == 2
    assert "cannot reach the database" in capsys.readouterr().err
    for name in ("DATABASE_URL", "PACKWATCH_DATABASE_URL"):
        monkeypatch.setenv(name, database.rsplit("/", 1)[0] + "/no_such_database")
    assert cli_main(["alert-notifications", "requeue", "--all"]) == 2
    err = capsys.readouterr().err
    assert "no_such_database" in err and "create the database" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):  # argparse: not an id the table can hold
        cli_main(["alert-notifications", "requeue", str(2**63)])
    assert "not a notification id" in capsys.readouterr().err
