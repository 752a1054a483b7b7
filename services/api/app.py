"""The FastAPI application: routers, error mapping, metrics, and the lifespan that owns the pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
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
from services.api.token_cache import TokenCache, listen_for_revocations
from services.core.db import open_pool

DESCRIPTION = """Battery-pack telemetry of the fleet: vehicles and packs, history at any
resolution, cell heatmaps, fleet summary and exports.

Every `/v1` route needs `Authorization: Bearer pw_<id>_<secret>` (issued by
`packwatch token create`). A token limited to depots sees nothing of the others:
their vehicles answer 404. Errors are JSON: `{"error": code, "reason": text}`."""


async def _no_session_reset(_conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query, a round trip per query on this pool.

    The API leaves no session state behind: no SET (only the pool's startup
    settings), LISTEN (revocations have a connection of their own), session
    advisory locks or cursors outside transactions. asyncpg still rolls back
    an open transaction on release.
    """


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API for ``settings`` (read from the environment when None).

    Nothing connects until the lifespan starts; the pool closes when it ends.
    """
    cfg = settings or ApiSettings()
    metrics = new_api_metrics()
    token_cache = TokenCache(cfg.token_cache_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_pool(
            cfg.dsn,
            min_size=cfg.pool_min_size,
            max_size=cfg.pool_max_size,
            statement_timeout_ms=cfg.statement_timeout_ms,
            close_timeout_s=cfg.shutdown_timeout_s,
            application_name="packwatch-api",
            reset=_no_session_reset,
        ) as pool:
            app.state.pool = pool
            async with listen_for_revocations(cfg.dsn, token_cache):
                yield

    app = FastAPI(
        title="packwatch API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = cfg
    app.state.metrics = metrics
    app.state.token_cache = token_cache
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
