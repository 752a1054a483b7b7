"""The alert lifecycle through the real broker and database: dedupe, flapping, outbox.

The service runs in the test's event loop. Time-driven changes follow the
event clock (the newest event timestamp seen), so ten minutes of flapping
take seconds of wall time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from schemas.common import AlertState, AnomalyKind, Severity
from services.alerts.apply import Applier, Clock
from services.alerts.routes_admin import Route
from tests.conftest import NewTopicFactory
from tests.integration.test_alerts_support import (
    add_route,
    event,
    fetch,
    fresh,
    produce,
    read_alerts,
    receiver,
    running,
    scalar,
    settings_for,
    wait_until,
)

pytestmark = pytest.mark.integration

SENT = "SELECT count(*) FROM alert_outbox WHERE sent_at IS NOT NULL"
DELIVERED = "SELECT count(*) FROM alert_notifications WHERE state = 'sent'"


async def test_replayed_and_duplicated_events_make_one_alert_one_message_one_call(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    anomalies, alerts = await fresh(database, new_topic)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    first = event("BUS-0001", t0, sensor=7)
    async with receiver() as hook:
        await add_route(database, Route("chn", "webhook", "json", hook.url, depot_id="CHN-MDV"))
        core, settings = settings_for(kafka_bootstrap, database, anomalies, alerts)
        async with running(core, settings) as service:
            await produce(kafka_bootstrap, anomalies, [first, first, first])
            assert await wait_until(database, DELIVERED, 1) == 1
            # A replay long after the first delivery: the same event id again.
            await produce(kafka_bootstrap, anomalies, [first])
            registry = service.metrics.pipeline.registry
            for _ in range(100):
                dupes = registry.get_sample_value(
                    "packwatch_alert_events_total", {"outcome": "duplicate"}
                )
                if dupes == 3:
                    break
                await asyncio.sleep(0.1)
            assert dupes == 3
            await asyncio.sleep(0.5)  # time for any (wrong) second message or call
        messages = await read_alerts(kafka_bootstrap, alerts)
        assert len(hook.received) == 1
    assert await scalar(database, "SELECT count(*) FROM alerts") == 1
    assert await scalar(database, "SELECT count(*) FROM alert_events") == 1
    assert await scalar(database, SENT) == 1
    assert len(messages) == 1
    key, msg, headers = messages[0]
    assert key == b"BUS-0001" and msg.state is AlertState.OPEN and msg.previous_state is None
    assert msg.severity is Severity.CRITICAL and msg.sensor_index == 7 and msg.depot_id == "CHN-MDV"
    assert headers["idempotency-key"].decode() == msg.idempotency_key == f"{msg.alert_id}:1"
    body = hook.received[0][1]
    assert body["vehicle_id"] == "BUS-0001" and body["depot_id"] == "CHN-MDV"
    assert body["position"].startswith("sensor 7 (cells ")
    assert body["evidence"]["coolant_outlet_c"] == 41.5
    assert body["vehicle_url"] == "http://packwatch.test/v1/vehicles/BUS-0001"


async def test_a_condition_growing_more_severe_raises_its_alert_one_message_one_call(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    anomalies, alerts = await fresh(database, new_topic)
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    onset = event("BUS-0004", t0, severity=Severity.WARNING)
    worse = event("BUS-0004", t0 + timedelta(minutes=4), event_id="raised:critical", raised=True)
    async with receiver() as hook:
        await add_route(database, Route("all", "webhook", "json", hook.url))
        core, settings = settings_for(
            kafka_bootstrap, database, anomalies, alerts,
            clock="event", escalate_warning_after_s=3600.0,
        )  # fmt: skip
        async with running(core, settings, Clock("event")):
            await produce(kafka_bootstrap, anomalies, [onset])
            assert await wait_until(database, DELIVERED, 1) == 1
            await produce(kafka_bootstrap, anomalies, [worse, worse])  # and a duplicate
            assert await wait_until(database, DELIVERED, 2) == 2
            assert await wait_until(database, SENT, 2) == 2
            await asyncio.sleep(0.5)  # time for any (wrong) third message or call
        messages = await read_alerts(kafka_bootstrap, alerts)
    rows = await fetch(database, "SELECT severity, event_severity, state, version FROM alerts")
    assert [tuple(r) for r in rows] == [("critical", "critical", "open", 2)]
    assert [(m.state, m.previous_state, m.severity) for _, m, _ in messages] == [
        (AlertState.OPEN, None, Severity.WARNING),
        (AlertState.OPEN, AlertState.OPEN, Severity.CRITICAL),
    ]
    assert messages[1][1].comment == "detector reported critical"
    assert sorted((b["version"], b["action"], b["severity"]) for _, b in hook.received) == [
        (1, "opened", "warning"),
        (2, "severity_raised", "critical"),
    ]
    audit = await fetch(database, "SELECT action FROM alert_audit ORDER BY version")
    assert [r["action"] for r in audit] == ["opened", "severity_raised"]


async def test_the_event_clock_makes_nothing_due_before_it_has_seen_an_event(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    anomalies, alerts = await fresh(database, new_topic)
    # A replay's warning from a week ago, stored while the service's event clock
    # has seen nothing (as between the commit of its first batch and the clock's
    # reading of it): by the wall clock it is long overdue for escalation.
    week_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)
    core, settings = settings_for(kafka_bootstrap, database, anomalies, alerts,
                                  clock="event", escalate_warning_after_s=1800.0)  # fmt: skip
    async with running(core, settings) as service:
        elsewhere = Applier(service.applier.pool, service.applier.policy,
                            service.applier.links, service.applier.metrics, Clock())  # fmt: skip
        await elsewhere.apply([event("BUS-0005", week_ago, severity=Severity.WARNING)])
        for _ in range(5):
            assert await service._sweep() == 0
        await asyncio.sleep(3 * settings.sweep_interval_s)  # and the service's own sweeps
    rows = await fetch(database, "SELECT severity, version FROM alerts")
    assert [tuple(r) for r in rows] == [("warning", 1)]
    assert service.clock.now() is None


async def test_ten_minutes_of_flapping_is_one_alert_and_a_return_reopens_it(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    anomalies, alerts = await fresh(database, new_topic)
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    # Toggling every 3 s for 600 s of vehicle time: 200 events.
    flapping = [
        event("BUS-0002", t0 + timedelta(seconds=3 * i), active=i % 2 == 0, cell=41)
        for i in range(200)
    ]
    end = flapping[-1].ts  # the last one reports the condition cleared
    async with receiver() as hook:
        await add_route(database, Route("all", "webhook", "slack", hook.url))
        core, settings = settings_for(
            kafka_bootstrap, database, anomalies, alerts,
            clock="event", auto_resolve_after_s=120, reopen_holdoff_s=900,
        )  # fmt: skip
        async with running(core, settings, Clock("event")):
            await produce(kafka_bootstrap, anomalies, flapping)
            await wait_until(database, "SELECT count(*) FROM alert_events", 200)
            assert await wait_until(database, DELIVERED, 1) == 1
            # Another bus's event moves the event clock past the auto-resolve time.
            tick = event("BUS-0003", end + timedelta(seconds=130), kind=AnomalyKind.WEAK_CELL,
                         active=False)  # fmt: skip
            await produce(kafka_bootstrap, anomalies, [tick])
            await wait_until(database, "SELECT state FROM alerts", "auto_resolved")
            # The condition returns within the hold-off: the same alert re-opens.
            back = event("BUS-0002", end + timedelta(seconds=300), cell=41)
            await produce(kafka_bootstrap, anomalies, [back])
            assert await wait_until(database, DELIVERED, 2) == 2
            assert await wait_until(database, SENT, 3) == 3
        messages = await read_alerts(kafka_bootstrap, alerts)
    rows = await fetch(database, "SELECT alert_id, state, reopen_count, location FROM alerts")
    assert len(rows) == 1
    assert rows[0]["state"] == "open" and rows[0]["reopen_count"] == 1
    assert rows[0]["location"] == "cell:41"
    assert [m.state for _, m, _ in messages] == [
        AlertState.OPEN,
        AlertState.AUTO_RESOLVED,
        AlertState.OPEN,
    ]
    assert {m.alert_id for _, m, _ in messages} == {str(rows[0]["alert_id"])}
    assert [m.idempotency_key.rsplit(":", 1)[1] for _, m, _ in messages] == ["1", "2", "3"]
    assert len(hook.received) == 2
    slack = hook.received[0][1]
    assert "BUS-0002" in slack["text"] and slack["blocks"][0]["type"] == "header"
    audit = await fetch(database, "SELECT action, actor FROM alert_audit ORDER BY version")
    assert [(r["action"], r["actor"]) for r in audit] == [
        ("opened", "system"),
        ("auto_resolved", "system"),
        ("reopened", "system"),
    ]
