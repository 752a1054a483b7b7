"""The alert routes of the REST API: roles, depot scope, acknowledge, resolve, maintenance.

Alerts are opened by the service's own applier on the real database; the API
runs in-process over its real pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from schemas.events import AnomalyEvent
from services.alerts import render
from services.alerts.apply import Applier, Clock
from services.alerts.lifecycle import Policy
from services.alerts.metric_defs import new_alert_metrics
from services.api.app import create_app
from tests.integration.test_alerts_support import HOME, event, fetch, prepare
from tests.integration.test_api_support import bearer, client_for, issue, settings_for

pytestmark = pytest.mark.integration


async def apply(dsn: str, *events: AnomalyEvent) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        applier = Applier(pool, Policy(), render.Links("http://t"), new_alert_metrics(), Clock())
        await applier.apply(list(events))
    finally:
        await pool.close()


@pytest.fixture
async def client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    await prepare(database)
    async with client_for(create_app(settings_for(database))) as c:
        yield c


async def test_maintenance_acknowledges_and_resolves_with_an_audit_trail(
    database: str, client: httpx.AsyncClient
) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    await apply(database, event("BUS-0001", t0, cell=12), event("BUS-0002", t0, sensor=3))
    operator = bearer((await issue(database, "operator")).token)
    crew = await issue(database, "maintenance")
    listed = (await client.get("/v1/alerts", params={"state": "open"}, headers=operator)).json()
    assert {a["vehicle_id"] for a in listed["items"]} == {"BUS-0001", "BUS-0002"}
    mine = next(a for a in listed["items"] if a["vehicle_id"] == "BUS-0001")
    path = f"/v1/alerts/{mine['alert_id']}"
    refused = await client.post(f"{path}/acknowledge", json={}, headers=operator)
    assert refused.status_code == 403

    auth = bearer(crew.token)
    ack = await client.post(
        f"{path}/acknowledge", json={"comment": "crew on the way"}, headers=auth
    )
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    again = await client.post(f"{path}/acknowledge", json={}, headers=auth)
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    done = await client.post(
        f"{path}/resolve",
        json={"resolution_code": "part_replaced", "comment": "coolant pump swapped"},
        headers=auth,
    )
    assert done.status_code == 200
    assert done.json()["state"] == "resolved" and done.json()["resolution_code"] == "part_replaced"

    detail = (await client.get(path, headers=operator)).json()
    assert [e["outcome"] for e in detail["events"]] == ["opened"]
    trail = [(a["action"], a["actor"], a["comment"]) for a in detail["audit"]]
    assert trail[0][:2] == ("opened", "system")
    assert trail[1:] == [
        ("acknowledged", f"token:{crew.token_id}", "crew on the way"),
        ("resolved", f"token:{crew.token_id}", "coolant pump swapped"),
    ]
    outbox = await fetch(
        database,
        "SELECT idempotency_key FROM alert_outbox WHERE alert_id = $1 ORDER BY outbox_id",
        detail["alert"]["alert_id"],
    )
    assert [r[0].rsplit(":", 1)[1] for r in outbox] == ["1", "2", "3"]


async def test_depot_scope_hides_other_depots_alerts(
    database: str, client: httpx.AsyncClient
) -> None:
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    await apply(database, event("BUS-0001", t0, cell=1), event("BUS-0002", t0, cell=1))
    scoped = bearer((await issue(database, "maintenance", depots=[HOME])).token)
    items = (await client.get("/v1/alerts", headers=scoped)).json()["items"]
    assert [a["vehicle_id"] for a in items] == ["BUS-0001"]
    foreign = (await fetch(database, "SELECT alert_id FROM alerts WHERE vehicle_id = 'BUS-0002'"))[
        0
    ][0]
    for method, suffix in (("GET", ""), ("POST", "/acknowledge")):
        r = await client.request(method, f"/v1/alerts/{foreign}{suffix}", json={}, headers=scoped)
        assert r.status_code == 404 and "MUM-WDL" not in r.text
    r = await client.put(
        "/v1/vehicles/BUS-0002/maintenance", json={"in_maintenance": True}, headers=scoped
    )
    assert r.status_code == 404


async def test_a_vehicle_in_maintenance_opens_no_alert(
    database: str, client: httpx.AsyncClient
) -> None:
    crew = bearer((await issue(database, "maintenance")).token)
    r = await client.put(
        "/v1/vehicles/BUS-0004/maintenance",
        json={"in_maintenance": True, "comment": "pack swap"},
        headers=crew,
    )
    assert r.status_code == 200 and r.json()["in_maintenance"] is True
    t0 = datetime.now(UTC) - timedelta(minutes=3)
    await apply(database, event("BUS-0004", t0, cell=5))
    assert (await fetch(database, "SELECT count(*) FROM alerts"))[0][0] == 0
    outcome = await fetch(database, "SELECT outcome FROM alert_events")
    assert [r[0] for r in outcome] == ["suppressed"]
    r = await client.put(
        "/v1/vehicles/BUS-0004/maintenance", json={"in_maintenance": False}, headers=crew
    )
    assert r.status_code == 200
    await apply(database, event("BUS-0004", t0 + timedelta(seconds=5), cell=5))
    assert (await fetch(database, "SELECT count(*) FROM alerts"))[0][0] == 1
    log = await fetch(database, "SELECT in_maintenance FROM vehicle_maintenance_log ORDER BY at")
    assert [r[0] for r in log] == [True, False]
