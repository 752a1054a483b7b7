"""The Prometheus endpoint each service exposes, and the metric names in one place.

Every metric a service exports is declared in :mod:`services.core.metric_defs`
with one comment each, so dashboards refer only to names that exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from services.core.health import Health


def build_app(registry: CollectorRegistry, health: Health) -> web.Application:
    """``/metrics`` (Prometheus text), ``/healthz`` (alive), ``/readyz`` (dependencies up)."""

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await health.check()
        ok = all(checks.values())
        return web.json_response(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@asynccontextmanager
async def serve_metrics(
    registry: CollectorRegistry, health: Health, host: str, port: int
) -> AsyncIterator[int]:
    """Serve the operations endpoints for the lifetime of the block; yields the bound port.

    ``port=0`` binds a free port (tests).
    """
    runner = web.AppRunner(build_app(registry, health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    # aiohttp keeps the asyncio server on the site; with port 0 the bound port lives there.
    sockets = getattr(site._server, "sockets", None) or []
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    try:
        yield bound
    finally:
        await runner.cleanup()
