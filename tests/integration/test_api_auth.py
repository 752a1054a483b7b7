"""Authentication, roles and depot scope, walked over every route of the app."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.api import tokens
from services.api.app import create_app
from services.api.cli import token_command
from services.api.routes_ops import PUBLIC_PATHS
from services.api.token_cache import TokenCache
from tests.integration.test_api_support import (
    FOREIGN,
    FOREIGN_PACK,
    HOME,
    OWN,
    Fleet,
    bearer,
    client_for,
    iso,
    issue,
    prepare,
    settings_for,
)

pytestmark = pytest.mark.integration

FOREIGN_NAMES = ("BUS-0002", "BUS-0003", "BUS-0005", "BUS-0006", "MUM-WDL", "BLR-YPR")


@pytest.fixture
async def fleet(database: str) -> Fleet:
    return await prepare(database)


@pytest.fixture
async def app_client(fleet: Fleet) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings_for(fleet.dsn))
    async with client_for(app) as client:
        yield app, client


def protected_routes(app: FastAPI) -> list[APIRoute]:
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.path not in PUBLIC_PATHS]
    assert len(routes) >= 10
    return routes


def url(route: APIRoute, vehicle: str, pack: str, alert: str = "") -> str:
    return (
        route.path.replace("{vehicle_id}", vehicle)
        .replace("{pack_id}", pack)
        .replace("{alert_id}", alert)
    )


# A valid body for each route that acts; the walks send it so that only
# authentication, role and scope decide the answer.
BODIES: dict[str, dict[str, object]] = {
    "/acknowledge": {"comment": "seen, on it"},
    "/resolve": {"resolution_code": "repaired", "comment": "fixed"},
    "/maintenance": {"in_maintenance": False, "comment": "back in service"},
}


def body_for(route: APIRoute) -> dict[str, object] | None:
    return next((b for suffix, b in BODIES.items() if route.path.endswith(suffix)), None)


async def new_alert(dsn: str, vehicle: str, depot: str) -> str:
    """A fresh open alert of ``vehicle`` (its own location, so each is live)."""
    alert_id = uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO alerts (alert_id, vehicle_id, depot_id, kind, location, severity,
            state, opened_at, last_event_at)
            VALUES ($1, $2, $3, 'cooling_failure', $4, 'warning', 'open', now(), now())""",
            alert_id, vehicle, depot, f"sensor:{alert_id.int % 30000}",
        )  # fmt: skip
    finally:
        await conn.close()
    return str(alert_id)


def query(fleet: Fleet) -> dict[str, str]:
    start = fleet.start + timedelta(minutes=1)
    return {"start": iso(start), "end": iso(start + timedelta(minutes=10))}


async def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "role": None,
        "depot": None,
        "expires_days": None,
        "description": None,
        "token_id": None,
        "json": False,
    }
    return argparse.Namespace(**{**base, **kw})


async def test_every_protected_route_refuses_bad_tokens(
    fleet: Fleet, app_client: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    app, client = app_client
    expired = await issue(fleet.dsn, "admin", expires_days=1e-9)
    code, lines = await token_command(fleet.dsn, await _args(action="create", role="admin"))
    assert code == 0
    revoked = lines[-1]
    revoked_id = tokens.parse(revoked)
    assert revoked_id is not None
    code, _ = await token_command(fleet.dsn, await _args(action="revoke", token_id=revoked_id[0]))
    assert code == 0
    valid = await issue(fleet.dsn, "admin")
    unknown = f"pw_{'0' * 12}_{valid.token.rsplit('_', 1)[1].rjust(43, 'A')[:43]}"
    forged = valid.token[:-1] + ("A" if valid.token[-1] != "A" else "B")
    refused: dict[str, dict[str, str]] = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "wrong scheme": {"Authorization": f"Basic {valid.token}"},
        "unknown": bearer(unknown),
        "wrong secret": bearer(forged),
        "expired": bearer(expired.token),
        "revoked": bearer(revoked),
    }
    for route in protected_routes(app):
        path = url(route, OWN, "PK-NMC-R3-00001", await new_alert(fleet.dsn, OWN, HOME))
        body = body_for(route)
        for method in route.methods or ():
            for why, headers in refused.items():
                r = await client.request(
                    method, path, params=query(fleet), headers=headers, json=body
                )
                assert r.status_code == 401, (path, why, r.status_code, r.text)
                answer = r.json()
                assert answer["error"] == "unauthorized" and answer["reason"], (path, why)
            ok = await client.request(
                method, path, params=query(fleet), headers=bearer(valid.token), json=body
            )
            assert ok.status_code == 200, (path, ok.text)


async def test_a_depot_scoped_token_sees_nothing_of_other_depots(
    fleet: Fleet, app_client: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    app, client = app_client
    scoped = bearer((await issue(fleet.dsn, "admin", depots=[HOME])).token)
    walked = 0
    for route in protected_routes(app):
        has_id = any(p in route.path for p in ("{vehicle_id}", "{pack_id}", "{alert_id}"))
        body = body_for(route)
        for method in route.methods or ():
            if has_id:
                own_alert = await new_alert(fleet.dsn, OWN, HOME)
                foreign_alert = await new_alert(fleet.dsn, FOREIGN, "MUM-WDL")
                mine = await client.request(
                    method, url(route, OWN, "PK-NMC-R3-00001", own_alert),
                    params=query(fleet), headers=scoped, json=body,
                )  # fmt: skip
                assert mine.status_code == 200, (route.path, mine.text)
                r = await client.request(
                    method, url(route, FOREIGN, FOREIGN_PACK, foreign_alert),
                    params=query(fleet), headers=scoped, json=body,
                )  # fmt: skip
                assert r.status_code == 404, (route.path, r.status_code)
                # The same answer as for an id that does not exist: no data, no depot.
                assert r.json()["error"] == "not_found" and set(r.json()) == {"error", "reason"}
                assert "MUM-WDL" not in r.text and "BLR-YPR" not in r.text
            else:
                r = await client.request(
                    method, route.path, params=query(fleet), headers=scoped, json=body
                )
                assert r.status_code == 200, (route.path, r.text)
                for name in FOREIGN_NAMES:
                    assert name not in r.text, (route.path, name)
            walked += 1
    assert walked == len(protected_routes(app))
    summary = (await client.get("/v1/fleet/summary", headers=scoped)).json()
    assert summary["vehicles"] == 2  # two of the six demo buses are in CHN-MDV


async def test_roles_gate_raw_data_and_exports(
    fleet: Fleet, app_client: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    _, client = app_client
    q = query(fleet)
    raw_routes = [
        ("/v1/vehicles/BUS-0001/telemetry", {**q, "interval": "raw"}),
        ("/v1/vehicles/BUS-0001/cells/snapshot", {}),
        ("/v1/vehicles/BUS-0001/cells/heatmap", q),
        ("/v1/vehicles/BUS-0001/export", q),
    ]
    views = [
        ("/v1/vehicles", {}),
        ("/v1/vehicles/BUS-0001", {}),
        ("/v1/fleet/summary", {}),
        ("/v1/vehicles/BUS-0001/telemetry", q),
    ]
    for role, raw_status in (("operator", 403), ("maintenance", 403), ("engineer", 200)):
        auth = bearer((await issue(fleet.dsn, role)).token)
        for path, params in raw_routes:
            r = await client.get(path, params=params, headers=auth)
            assert r.status_code == raw_status, (role, path, r.text)
            if raw_status == 403:
                assert r.json()["error"] == "forbidden"
        for path, params in views:
            assert (await client.get(path, params=params, headers=auth)).status_code == 200


async def test_token_cli_prints_the_token_once_and_stores_only_its_hash(fleet: Fleet) -> None:
    code, lines = await token_command(
        fleet.dsn,
        await _args(action="create", role="engineer", depot=[HOME], expires_days=30.0),
    )
    assert code == 0
    token = lines[-1]
    parsed = tokens.parse(token)
    assert parsed is not None
    token_id, secret = parsed
    conn = await asyncpg.connect(fleet.dsn)
    try:
        stored = await conn.fetchrow("SELECT * FROM api_tokens WHERE token_id = $1", token_id)
        assert stored is not None and secret.encode() not in bytes(stored["secret_sha256"])
        assert list(stored["depots"]) == [HOME] and stored["expires_at"] is not None
        principal = await tokens.verify(conn, token)
        assert principal is not None and principal.depots == (HOME,)
    finally:
        await conn.close()
    code, listed = await token_command(fleet.dsn, await _args(action="list", json=True))
    assert code == 0 and token_id in "".join(listed) and secret not in "".join(listed)
    code, _ = await token_command(fleet.dsn, await _args(action="create", role="root"))
    assert code == 2
    code, _ = await token_command(
        fleet.dsn, await _args(action="create", role="operator", depot=["NOWHERE"])
    )
    assert code == 2
    assert (await token_command(fleet.dsn, await _args(action="revoke", token_id=token_id)))[0] == 0
    assert (await token_command(fleet.dsn, await _args(action="revoke", token_id=token_id)))[0] == 1


LISTENERS_SQL = """SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN %'"""


async def _until_refused(client: httpx.AsyncClient, token: str, attempts: int = 100) -> int:
    """Ask until the token is refused (at most ``attempts`` tries, 0.1 s apart); the last status."""
    status = 0
    for _ in range(attempts):
        status = (await client.get("/v1/vehicles", headers=bearer(token))).status_code
        if status == 401:
            break
        await asyncio.sleep(0.1)
    return status


async def _listeners(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["pid"] for r in await conn.fetch(LISTENERS_SQL)]
    finally:
        await conn.close()


async def test_revoking_a_cached_token_refuses_it_at_once(fleet: Fleet) -> None:
    # A cache that would keep rows for five minutes: only the revocation's
    # notification can refuse the token within the few seconds allowed here.
    app = create_app(settings_for(fleet.dsn, token_cache_s=300))
    revoked, kept = await issue(fleet.dsn, "operator"), await issue(fleet.dsn, "operator")
    async with client_for(app) as client:
        for token in (revoked.token, kept.token):
            assert (await client.get("/v1/vehicles", headers=bearer(token))).status_code == 200
        assert len(app.state.token_cache) == 2
        code, _ = await token_command(
            fleet.dsn, await _args(action="revoke", token_id=revoked.token_id)
        )
        assert code == 0
        assert await _until_refused(client, revoked.token) == 401
        # Only the revoked token was affected.
        assert (await client.get("/v1/vehicles", headers=bearer(kept.token))).status_code == 200

        # The listening connection is lost: it comes back, and revocations are heard again.
        (listener,) = await _listeners(fleet.dsn)
        conn = await asyncpg.connect(fleet.dsn)
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", listener)
        finally:
            await conn.close()
        for _ in range(100):
            back = await _listeners(fleet.dsn)
            if back and back != [listener]:
                break
            await asyncio.sleep(0.1)
        assert back and listener not in back
        assert (await client.get("/v1/vehicles", headers=bearer(kept.token))).status_code == 200
        conn = await asyncpg.connect(fleet.dsn)
        try:
            assert await tokens.revoke(conn, kept.token_id)
        finally:
            await conn.close()
        assert await _until_refused(client, kept.token) == 401


async def test_a_token_changed_by_hand_is_served_from_memory_for_at_most_the_ttl(
    fleet: Fleet,
) -> None:
    now = [1000.0]
    cache = TokenCache(ttl_s=5.0, clock=lambda: now[0])
    issued = await issue(fleet.dsn, "engineer")
    forged = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    conn = await asyncpg.connect(fleet.dsn)
    try:
        principal = await cache.verify(conn, issued.token)
        assert principal is not None and principal.role == "engineer"
        # The kept row still proves possession: a wrong secret is refused from memory too.
        assert await cache.verify(conn, forged) is None
        # Revoked without the notification (by hand): within the ttl the kept row answers...
        await conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1", issued.token_id
        )
        now[0] += 4.9
        assert await cache.verify(conn, issued.token) is not None
        # ...and once the ttl has passed, the row is read again.
        now[0] += 0.1
        assert await cache.verify(conn, issued.token) is None
        # Unknown ids are never kept, and a zero ttl keeps nothing at all.
        assert await cache.verify(conn, f"pw_{'0' * 12}_{'A' * 43}") is None
        off = TokenCache(ttl_s=0)
        fresh = await issue(fleet.dsn, "operator")
        assert await off.verify(conn, fresh.token) is not None and len(off) == 0
    finally:
        await conn.close()
    assert len(cache) == 1
