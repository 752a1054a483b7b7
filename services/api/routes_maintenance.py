"""Marking a vehicle in or out of maintenance (``alerts:write``; depot-scoped).

While a vehicle is in maintenance the alerts service opens no new alert for
it and escalates none of its open ones: the people who would be paged are
already working on the bus. Every mark is kept in ``vehicle_maintenance_log``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.api.auth import AlertWriter, Pool
from services.api.errors import ERROR_RESPONSES
from services.api.params import VehicleId
from services.api.routes_alerts import actor_of
from services.api.scope import visible_vehicle

router = APIRouter(prefix="/v1", tags=["alerts"], responses=ERROR_RESPONSES)


class MaintenanceUpdate(BaseModel):
    in_maintenance: bool
    comment: str | None = Field(default=None, max_length=2000)


class MaintenancePublic(BaseModel):
    vehicle_id: str
    depot_id: str
    in_maintenance: bool
    actor: str
    at: datetime
    comment: str | None


@router.put(
    "/vehicles/{vehicle_id}/maintenance",
    response_model=MaintenancePublic,
    summary="Mark a vehicle in or out of maintenance",
)
async def set_maintenance(
    vehicle_id: VehicleId, body: MaintenanceUpdate, principal: AlertWriter, pool: Pool
) -> MaintenancePublic:
    actor = actor_of(principal)
    async with pool.acquire() as conn, conn.transaction():
        depot = await visible_vehicle(conn, principal, vehicle_id)
        await conn.execute(
            "UPDATE vehicles SET in_maintenance = $2 WHERE vehicle_id = $1",
            vehicle_id,
            body.in_maintenance,
        )
        at = await conn.fetchval(
            """INSERT INTO vehicle_maintenance_log (vehicle_id, in_maintenance, actor, comment)
            VALUES ($1, $2, $3, $4) RETURNING at""",
            vehicle_id,
            body.in_maintenance,
            actor,
            body.comment,
        )
    return MaintenancePublic(
        vehicle_id=vehicle_id,
        depot_id=depot,
        in_maintenance=body.in_maintenance,
        actor=actor,
        at=at,
        comment=body.comment,
    )
