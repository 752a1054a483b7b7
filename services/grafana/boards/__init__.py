"""The five dashboards, one module each; :data:`ALL` builds them in menu order."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models.dashboard import Dashboard

from services.grafana.boards import health, overview, pipeline, thermal, vehicle

ALL: tuple[Callable[[], Dashboard], ...] = (
    overview.build,
    vehicle.build,
    thermal.build,
    health.build,
    pipeline.build,
)
#: The uid of the dashboard whose queries must stay on the rollups.
OVERVIEW_UID = overview.UID
FOLDER_UID = "packwatch"
FOLDER_TITLE = "packwatch"
