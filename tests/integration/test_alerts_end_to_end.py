"""End to end on the simulated fleet: a cooling failure becomes one alert, opened as a
warning and raised to critical; each change one message and one call.

Six demo buses drive and charge for three hours of vehicle time; BUS-0001's
coolant pump dies 45 minutes in, just before it comes back nearly empty and
charges at 120 kW. Their samples go through telemetry.pack.v1 to the real
scoring service, whose AnomalyEvents go through pack.anomalies.v1 to the real
alerts service, which publishes on pack.alerts.v1 and calls a webhook routed
for every depot. The five healthy buses must raise nothing.

Both services run in the test's event loop; the alerts service follows the
event clock, so three hours of lifecycle time pass in seconds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from schemas.common import AlertState, AnomalyKind, Severity
from schemas.messages import encode
from services.alerts.routes_admin import Route
from services.core.settings import CoreSettings
from services.scoring.app import scoring_service
from services.scoring.settings import ScoringSettings
from services.simulator import FleetConfig, simulate_samples
from tests.conftest import NewTopicFactory
from tests.integration import ingest_support
from tests.integration.test_alerts_support import (
    BUSES,
    add_route,
    fetch,
    prepare,
    read_alerts,
    receiver,
    running,
    settings_for,
    wait_until,
)

pytestmark = pytest.mark.integration

FAULTY = "BUS-0001"
FAULTS = f"cooling_failure:{FAULTY}@45m:mode=pump:severity=1.0"
DURATION_S = 3 * 3600.0
# The alert is critical (it may have opened as a warning, then been raised), and
# every notification queued so far is delivered.
SETTLED = """SELECT EXISTS (SELECT FROM alerts WHERE severity = 'critical')
  AND NOT EXISTS (SELECT FROM alert_notifications WHERE state <> 'sent')"""


def _samples() -> list[tuple[bytes, bytes]]:
    cfg = FleetConfig(
        buses=BUSES, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC), faults=FAULTS, soc0=0.15
    )
    return [(s.vehicle_id.encode(), encode(s))
            for batch in simulate_samples(cfg, DURATION_S, dt=10.0) for s in batch]  # fmt: skip


async def test_a_cooling_failure_on_the_simulated_fleet_is_one_alert_one_message_a_change(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory
) -> None:
    await prepare(database)
    samples, anomalies, alerts = (
        await new_topic("pack", 3), await new_topic("anom", 3), await new_topic("alerts", 3)
    )  # fmt: skip
    items = await asyncio.to_thread(_samples)
    await ingest_support.produce(kafka_bootstrap, samples, items)

    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)
    scoring = ScoringSettings(topic=samples, anomalies_topic=anomalies, group_id="e2e-scoring",
                              metrics_port=-1, batch_max_ms=100)  # fmt: skip
    # Lifecycle times longer than the run: the detector's reports are the only
    # changes (no escalation, no auto-resolution).
    _, alerting = settings_for(kafka_bootstrap, database, anomalies, alerts, clock="event",
                               auto_resolve_after_s=6 * 3600.0,
                               escalate_warning_after_s=6 * 3600.0)  # fmt: skip
    async with receiver() as hook:
        await add_route(database, Route("all-depots", "webhook", "json", hook.url))
        stop = asyncio.Event()
        async with running(core, alerting), scoring_service(core, scoring, stop) as scorer:
            task = asyncio.create_task(scorer.run(stop))
            try:
                deadline = time.monotonic() + 120
                while scorer.samples_scored < len(items) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                assert scorer.samples_scored == len(items)
                assert await wait_until(database, SETTLED, True) is True
                await asyncio.sleep(2.0)  # time for any (wrong) second alert, message or call
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)
        messages = await read_alerts(kafka_bootstrap, alerts)

    rows = await fetch(database, "SELECT vehicle_id, kind, severity, state FROM alerts")
    assert [tuple(r) for r in rows] == [(FAULTY, "cooling_failure", "critical", "open")]
    # The pump's flow falls first (a warning) and is lost ~13 minutes later: the
    # alert is raised to critical. However the broker's fetches cut the stream
    # into scoring passes, findings are taken every 30 s of each bus's time, so
    # the order is always this one; each change is one message and one call.
    severities = [msg.severity for _, msg, _ in messages]
    assert severities == [Severity.WARNING, Severity.CRITICAL]
    assert [msg.previous_state for _, msg, _ in messages] == [None, AlertState.OPEN]
    for key, msg, _ in messages:
        assert key == FAULTY.encode() and msg.state is AlertState.OPEN
        assert msg.kind is AnomalyKind.COOLING_FAILURE
    assert len(hook.received) == len(messages)
    assert len({k for k, _ in hook.received}) == len(messages)  # no call twice
    # Calls of one alert may arrive in any order: receivers order them by version.
    (body,) = [b for _, b in hook.received if b["severity"] == "critical"]
    assert body["vehicle_id"] == FAULTY and body["action"] == "severity_raised"
    assert body["version"] == max(b["version"] for _, b in hook.received)
    assert body["evidence"]["coolant_dt_c"] >= body["evidence"]["coolant_dt_limit_c"]
