"""/metrics, /healthz and /readyz served by every stream service."""

from __future__ import annotations

import aiohttp

from services.core.health import Health
from services.core.metric_defs import new_registry
from services.core.metrics import serve_metrics


async def _ok() -> bool:
    return True


async def _down() -> bool:
    raise ConnectionRefusedError("database down")


async def test_metrics_and_readiness_reflect_the_checks() -> None:
    metrics = new_registry()
    metrics.messages_in.labels("ingest", "telemetry.pack.v1").inc(3)
    health = Health()
    health.add("kafka", _ok)
    health.add("database", _down)
    async with (
        serve_metrics(metrics.registry, health, "127.0.0.1", 0) as port,
        aiohttp.ClientSession() as http,
    ):
        base = f"http://127.0.0.1:{port}"
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
            assert r.status == 200
            assert (
                'packwatch_messages_in_total{service="ingest",topic="telemetry.pack.v1"} 3.0'
                in text
            )
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200
        async with http.get(f"{base}/readyz") as r:
            body = await r.json()
            assert r.status == 503
            assert body["checks"] == {"kafka": True, "database": False}
        health.add("database", _ok)
        async with http.get(f"{base}/readyz") as r:
            assert r.status == 200
