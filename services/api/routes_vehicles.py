"""Depots, vehicles and packs: lists with filters, one vehicle with its pack and state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from services.api.auth import FleetReader, Pool
from services.api.errors import ERROR_RESPONSES, NotFound
from services.api.fleetstate import classify
from services.api.models import (
    DepotPublic,
    DesignPublic,
    LatestState,
    PackList,
    PackPublic,
    VehicleDetail,
    VehicleList,
    VehiclePublic,
)
from services.api.params import (
    ChemistryFilter,
    DepotFilter,
    DesignFilter,
    Limit,
    Offset,
    PackId,
    VehicleId,
)
from services.api.settings import ApiSettings
from services.api.signals import RAW_SIGNALS

router = APIRouter(prefix="/v1", tags=["fleet"], responses=ERROR_RESPONSES)

SCOPE = "($1::text[] IS NULL OR v.depot_id = ANY($1::text[]))"

# The pack installed now: not removed, most recently installed first.
CURRENT_PACK = """LEFT JOIN LATERAL (
    SELECT pack_id, design_id FROM packs
    WHERE vehicle_id = v.vehicle_id AND removed_at IS NULL
    ORDER BY installed_at DESC NULLS LAST LIMIT 1) AS p ON true
LEFT JOIN pack_designs AS d ON d.design_id = p.design_id"""

VEHICLES_SQL = f"""SELECT v.vehicle_id, v.depot_id, v.model, v.registration, v.commissioned_on,
    v.in_maintenance, p.pack_id, p.design_id, d.chemistry
FROM vehicles AS v {CURRENT_PACK}
WHERE {SCOPE} AND ($2::text IS NULL OR v.depot_id = $2) AND ($3::text IS NULL OR p.design_id = $3)
  AND ($4::text IS NULL OR d.chemistry = $4)
ORDER BY v.vehicle_id LIMIT $5 OFFSET $6"""

VEHICLE_SQL = f"""SELECT v.vehicle_id, v.depot_id, v.model, v.registration, v.commissioned_on,
    v.in_maintenance, p.pack_id, p.design_id, d.chemistry
FROM vehicles AS v {CURRENT_PACK}
WHERE {SCOPE} AND v.vehicle_id = $2"""

LATEST_SQL = f"""SELECT ts, {", ".join(RAW_SIGNALS)} FROM pack_samples
WHERE vehicle_id = $1 ORDER BY ts DESC LIMIT 1"""

PACK_COLUMNS = """k.pack_id, k.design_id, d.chemistry, k.vehicle_id, v.depot_id, k.installed_at,
    k.removed_at, k.cell_lot"""
PACK_FROM = """FROM packs AS k JOIN pack_designs AS d ON d.design_id = k.design_id
LEFT JOIN vehicles AS v ON v.vehicle_id = k.vehicle_id"""
# A spare pack (no vehicle) belongs to no depot: only an unscoped token sees it.
PACK_SCOPE = "($1::text[] IS NULL OR v.depot_id = ANY($1::text[]))"

PACKS_SQL = f"""SELECT {PACK_COLUMNS} {PACK_FROM}
WHERE {PACK_SCOPE} AND ($2::text IS NULL OR v.depot_id = $2)
  AND ($3::text IS NULL OR k.design_id = $3) AND ($4::text IS NULL OR d.chemistry = $4)
ORDER BY k.pack_id LIMIT $5 OFFSET $6"""

PACK_SQL = f"SELECT {PACK_COLUMNS} {PACK_FROM} WHERE {PACK_SCOPE} AND k.pack_id = $2"

DESIGN_SQL = """SELECT design_id, revision, chemistry, cell_supplier, cell_model, cells_series,
    cells_parallel, nominal_ah, nominal_v, cooling, temp_sensors
FROM pack_designs WHERE design_id = $1"""


@router.get("/depots", response_model=list[DepotPublic], summary="Depots the token may see")
async def list_depots(principal: FleetReader, pool: Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT depot_id, name, city, timezone FROM depots
        WHERE ($1::text[] IS NULL OR depot_id = ANY($1::text[])) ORDER BY depot_id""",
        principal.depot_list,
    )
    return [dict(r) for r in rows]


@router.get("/vehicles", response_model=VehicleList, summary="Vehicles, filtered")
async def list_vehicles(
    principal: FleetReader,
    pool: Pool,
    depot: DepotFilter = None,
    design: DesignFilter = None,
    chemistry: ChemistryFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Vehicles with their current pack, by depot, pack design or chemistry."""
    rows = await pool.fetch(
        VEHICLES_SQL, principal.depot_list, depot, design, chemistry, limit, offset
    )
    return {"items": [dict(r) for r in rows], "limit": limit, "offset": offset}


@router.get("/vehicles/{vehicle_id}", response_model=VehicleDetail, summary="One vehicle")
async def get_vehicle(
    vehicle_id: VehicleId, principal: FleetReader, pool: Pool, request: Request
) -> dict[str, Any]:
    """The vehicle, its current pack and design, and its latest state."""
    settings: ApiSettings = request.app.state.settings
    async with pool.acquire() as conn:
        row = await conn.fetchrow(VEHICLE_SQL, principal.depot_list, vehicle_id)
        if row is None:
            raise NotFound(f"no vehicle {vehicle_id}")
        vehicle = VehiclePublic(**dict(row))
        pack = None
        design = None
        if row["pack_id"] is not None:
            pack_row = await conn.fetchrow(PACK_SQL, principal.depot_list, row["pack_id"])
            pack = PackPublic(**dict(pack_row)) if pack_row is not None else None
            design_row = await conn.fetchrow(DESIGN_SQL, row["design_id"])
            design = DesignPublic(**dict(design_row)) if design_row is not None else None
        sample = await conn.fetchrow(LATEST_SQL, vehicle_id)
    latest = None
    if sample is not None:
        now = datetime.now(UTC)
        status = classify(
            sample["ts"],
            sample["pack_current_a"],
            sample["speed_kmh"],
            sample["charging_state"],
            now,
            settings.online_window,
        )
        latest = LatestState(
            ts=sample["ts"],
            age_s=(now - sample["ts"]).total_seconds(),
            status=status,
            values={k: sample[k] for k in RAW_SIGNALS},
        )
    return {"vehicle": vehicle, "pack": pack, "design": design, "latest": latest}


@router.get("/packs", response_model=PackList, summary="Packs, filtered")
async def list_packs(
    principal: FleetReader,
    pool: Pool,
    depot: DepotFilter = None,
    design: DesignFilter = None,
    chemistry: ChemistryFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Packs with their design and vehicle, by depot, pack design or chemistry."""
    rows = await pool.fetch(
        PACKS_SQL, principal.depot_list, depot, design, chemistry, limit, offset
    )
    return {"items": [dict(r) for r in rows], "limit": limit, "offset": offset}


@router.get("/packs/{pack_id}", response_model=PackPublic, summary="One pack")
async def get_pack(pack_id: PackId, principal: FleetReader, pool: Pool) -> dict[str, Any]:
    row = await pool.fetchrow(PACK_SQL, principal.depot_list, pack_id)
    if row is None:
        raise NotFound(f"no pack {pack_id}")
    return dict(row)
