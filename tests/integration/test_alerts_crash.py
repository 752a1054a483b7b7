"""SIGKILL between the database commit and the Kafka send, repeatedly, while events flow.

``python -m services.alerts`` runs as its own process. Each run is killed
either by its crash point (right after a committed batch of changes, before
the relay publishes them) or from outside at a random moment. Afterwards
every alert change in the audit trail has its outbox row, and every outbox
row is on ``pack.alerts.v1`` at least once: exactly once after deduplicating
on the idempotency key, none missing, none unknown.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.common import Severity
from tests.conftest import NewTopicFactory
from tests.integration.test_alerts_support import (
    alerts_process,
    event,
    fetch,
    fresh,
    produce,
    read_alerts,
    scalar,
    settings_for,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VEHICLES = [f"BUS-{i:04d}" for i in range(1, 7)]
CELLS = range(4)
ROUNDS, ROUND_S, PHASE = 60, 0.25, 8  # 15 s of flow; conditions toggle every 2 s
KILLS = 8
UNSENT = "SELECT count(*) FROM alert_outbox WHERE sent_at IS NULL"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return


async def test_sigkill_between_commit_and_send_loses_and_duplicates_nothing(
    kafka_bootstrap: str, database: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    anomalies, alerts = await fresh(database, new_topic)
    core, settings = settings_for(
        kafka_bootstrap, database, anomalies, alerts,
        auto_resolve_after_s=1.5, reopen_holdoff_s=60, escalate_warning_after_s=2.0,
        group_instance_id="alerts-0", session_timeout_ms=6000, relay_interval_s=0.3,
    )  # fmt: skip
    sent_events = 0

    async def flow() -> None:  # each key: active for a phase, cleared for the next
        nonlocal sent_events
        for r in range(ROUNDS):
            now = datetime.now(UTC)
            batch = [
                event(v, now, severity=Severity.WARNING, cell=c,
                      active=(r // PHASE + i + c) % 2 == 0 and r < ROUNDS - PHASE)
                for i, v in enumerate(VEHICLES) for c in CELLS
            ]  # fmt: skip
            sent_events += await produce(kafka_bootstrap, anomalies, batch)
            await asyncio.sleep(ROUND_S)

    producer = asyncio.create_task(flow())
    rng = random.Random(8)
    log = tmp_path / "alerts.log"
    unsent_at_death: list[int] = []
    self_killed = 0
    while len(unsent_at_death) < KILLS:
        every = str(rng.randint(1, 4))
        proc = alerts_process(core, settings, log, PACKWATCH_ALERTS_FAULT_KILL_AFTER_COMMITS=every)
        # Wait for the crash point, or kill from outside at a random moment.
        await asyncio.to_thread(_wait, proc, rng.uniform(2.0, 5.0))
        if proc.poll() is None:
            proc.kill()
        else:
            self_killed += proc.returncode == -signal.SIGKILL
        proc.wait(10)
        unsent_at_death.append(await scalar(database, UNSENT))
    await producer
    proc = alerts_process(core, settings, log)
    try:
        processed = "SELECT count(*) FROM alert_events WHERE outcome <> 'pending'"
        assert await wait_until(database, processed, sent_events, limit_s=90) == sent_events
        live = "SELECT count(*) FROM alerts WHERE state IN ('open', 'acknowledged')"
        assert await wait_until(database, live, 0, limit_s=30) == 0
        assert await wait_until(database, UNSENT, 0, limit_s=30) == 0
    finally:
        _stop(proc)
    assert self_killed >= 1 and sum(unsent_at_death) >= 1, (self_killed, unsent_at_death)

    outbox = {r["idempotency_key"] for r in await fetch(database, "SELECT * FROM alert_outbox")}
    audit = await fetch(database, "SELECT alert_id, version, to_state FROM alert_audit")
    assert {f"{r['alert_id']}:{r['version']}" for r in audit} == outbox
    by_alert: dict[str, list[int]] = {}
    for r in audit:
        by_alert.setdefault(str(r["alert_id"]), []).append(r["version"])
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in by_alert.values())

    messages = await read_alerts(kafka_bootstrap, alerts, quiet_s=3.0)
    seen = Counter(m.idempotency_key for _, m, _ in messages)
    assert set(seen) == outbox  # none missing, none unknown
    states = {f"{r['alert_id']}:{r['version']}": r["to_state"] for r in audit}
    assert all(states[m.idempotency_key] == m.state.value for _, m, _ in messages)
    assert all(k.decode() == m.vehicle_id for k, m, _ in messages)
    actions = {r["action"] for r in await fetch(database, "SELECT action FROM alert_audit")}
    assert {"opened", "auto_resolved", "reopened"} <= actions
    print(
        f"changes={len(outbox)} messages={len(messages)} "
        f"redelivered={sum(seen.values()) - len(seen)} unsent_at_death={unsent_at_death}"
    )
