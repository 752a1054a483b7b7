"""Depot scope checks shared by routes that read one vehicle's data."""

from __future__ import annotations

import asyncpg

from services.api.errors import NotFound
from services.api.tokens import Principal

VISIBLE_SQL = """SELECT depot_id FROM vehicles
WHERE vehicle_id = $1 AND ($2::text[] IS NULL OR depot_id = ANY($2::text[]))"""


async def visible_vehicle(
    conn: asyncpg.Connection | asyncpg.Pool, principal: Principal, vehicle_id: str
) -> str:
    """The vehicle's depot; :class:`NotFound` when absent or outside the token's depots.

    Both cases answer alike, so a scoped token cannot tell a foreign vehicle exists.
    """
    depot = await conn.fetchval(VISIBLE_SQL, vehicle_id, principal.depot_list)
    if depot is None:
        raise NotFound(f"no vehicle {vehicle_id}")
    return str(depot)
