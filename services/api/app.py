"""The FastAPI application: routers, error mapping, metrics, and the lifespan that owns the pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api import (
    errors,
    routes_alerts,
    routes_cells,
    routes_export,
    routes_fleet,
    routes_maintenance,
    routes_ops,
    routes_telemetry,
    routes_vehicles,
)
from services.api.metric_defs import new_api_metrics
from services.api.middleware import MetricsMiddleware
from services.api.settings import ApiSettings
from services.core.db import open_pool

DESCRIPTION = """Battery-pack telemetry of the fleet: vehicles and packs, history at any
resolution, cell heatmaps, fleet summary and exports.

Every `/v1` route needs `Authorization: Bearer pw_<id>_<secret>` (issued by
`packwatch token create`). A token limited to depots sees nothing of the others:
their vehicles answer 404. Errors are JSON: `{"error": code, "reason": text}`."""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API for ``settings`` (read from the environment when None).

    Nothing connects until the lifespan starts; the pool closes when it ends.
    """
    cfg = settings or ApiSettings()
    metrics = new_api_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_pool(
            cfg.dsn,
            min_size=cfg.pool_min_size,
            max_size=cfg.pool_max_size,
            statement_timeout_ms=cfg.statement_timeout_ms,
            close_timeout_s=cfg.shutdown_timeout_s,
            application_name="packwatch-api",
        ) as pool:
            app.state.pool = pool
            yield

    app = FastAPI(
        title="packwatch API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = cfg
    app.state.metrics = metrics
    errors.install(app)
    # The routers' routes join the app's own list (each already carries its
    # router's prefix, tags and error responses), so ``app.routes`` lists every
    # APIRoute directly: the auth tests walk it, and the request metrics label by
    # the full path template.
    for module in (
        routes_ops,
        routes_vehicles,
        routes_telemetry,
        routes_cells,
        routes_fleet,
        routes_export,
        routes_alerts,
        routes_maintenance,
    ):
        app.router.routes.extend(module.router.routes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
