"""Fleet summary: what every visible vehicle is doing now, SoC and SoH spread, thermal outliers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from services.api.auth import FleetReader, Pool
from services.api.errors import ERROR_RESPONSES
from services.api.fleetstate import classify
from services.api.models import FleetSummary
from services.api.params import DepotFilter
from services.api.settings import ApiSettings

router = APIRouter(prefix="/v1", tags=["fleet"], responses=ERROR_RESPONSES)

# Latest sample and latest health estimate per vehicle, one index probe each.
LATEST_SQL = """SELECT v.vehicle_id, v.depot_id, s.ts, s.pack_id, s.soc_pct, s.soh_pct,
    s.pack_current_a, s.speed_kmh, s.charging_state, s.cell_temp_min_c, s.cell_temp_max_c,
    h.soh_pct AS health_soh_pct
FROM vehicles AS v
LEFT JOIN LATERAL (
    SELECT ts, pack_id, soc_pct, soh_pct, pack_current_a, speed_kmh, charging_state,
        cell_temp_min_c, cell_temp_max_c
    FROM pack_samples WHERE vehicle_id = v.vehicle_id ORDER BY ts DESC LIMIT 1) AS s ON true
LEFT JOIN LATERAL (
    SELECT soh_pct FROM pack_health WHERE vehicle_id = v.vehicle_id
    ORDER BY ts DESC LIMIT 1) AS h ON true
WHERE ($1::text[] IS NULL OR v.depot_id = ANY($1::text[])) AND ($2::text IS NULL OR v.depot_id = $2)
ORDER BY v.vehicle_id LIMIT $3"""

SOC_EDGES = [float(x) for x in range(0, 101, 10)]
SOH_EDGES = [70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 100.0]


def histogram(values: Sequence[float], edges: list[float]) -> list[dict[str, Any]]:
    """Counts per bin [edge_i, edge_i+1), with open-ended bins below and above the edges.

    The last bounded bin includes its upper edge (so SoC 100 lands in 90–100).
    """
    bins: list[dict[str, Any]] = [{"lower": None, "upper": edges[0], "count": 0}]
    bins += [
        {"lower": lo, "upper": hi, "count": 0} for lo, hi in zip(edges, edges[1:], strict=False)
    ]
    bins.append({"lower": edges[-1], "upper": None, "count": 0})
    for v in values:
        if v < edges[0]:
            bins[0]["count"] += 1
        elif v > edges[-1]:
            bins[-1]["count"] += 1
        else:
            i = next((k for k in range(len(edges) - 1) if v < edges[k + 1]), len(edges) - 2)
            bins[i + 1]["count"] += 1
    return bins


@router.get("/fleet/summary", response_model=FleetSummary, summary="The fleet now")
async def fleet_summary(
    principal: FleetReader, pool: Pool, request: Request, depot: DepotFilter = None
) -> dict[str, Any]:
    """Online/charging/driving/idle/offline counts from each vehicle's latest sample and its
    age, the SoC and SoH distributions, and the packs outside the thermal limits now."""
    settings: ApiSettings = request.app.state.settings
    rows = await pool.fetch(LATEST_SQL, principal.depot_list, depot, settings.fleet_max_vehicles)
    now = datetime.now(UTC)
    counts = {"charging": 0, "driving": 0, "idle": 0, "offline": 0}
    socs: list[float] = []
    sohs: list[float] = []
    thermal: list[dict[str, Any]] = []
    for r in rows:
        status = classify(
            r["ts"], r["pack_current_a"], r["speed_kmh"], r["charging_state"], now,
            settings.online_window,
        )  # fmt: skip
        counts[status] += 1
        soh = r["health_soh_pct"] if r["health_soh_pct"] is not None else r["soh_pct"]
        if soh is not None:
            sohs.append(soh)
        if status == "offline":
            continue
        socs.append(r["soc_pct"])
        hot = r["cell_temp_max_c"] is not None and r["cell_temp_max_c"] > settings.thermal_max_c
        cold = r["cell_temp_min_c"] is not None and r["cell_temp_min_c"] < settings.thermal_min_c
        if hot or cold:
            thermal.append(
                {
                    "vehicle_id": r["vehicle_id"],
                    "pack_id": r["pack_id"],
                    "depot_id": r["depot_id"],
                    "ts": r["ts"],
                    "cell_temp_min_c": r["cell_temp_min_c"],
                    "cell_temp_max_c": r["cell_temp_max_c"],
                    "reason": "too_hot" if hot else "too_cold",
                }
            )
    return {
        "as_of": now,
        "vehicles": len(rows),
        "online": len(rows) - counts["offline"],
        **counts,
        "soc_pct": histogram(socs, SOC_EDGES),
        "soh_pct": histogram(sohs, SOH_EDGES),
        "thermal_limits_c": {"min": settings.thermal_min_c, "max": settings.thermal_max_c},
        "outside_thermal_limits": thermal,
    }
