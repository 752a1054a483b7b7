"""Authentication and authorisation as FastAPI dependencies.

Every non-public route depends on :func:`require` with one permission; the
dependency refuses a missing, malformed, unknown, expired or revoked token
(401) and a role without the permission (403). Depot scope travels in the
:class:`~services.api.tokens.Principal` and every query filters on it.

Roles and what they may do:

- ``operator``: fleet and vehicle views, alerts (read);
- ``maintenance``: the operator's views, and acknowledging/resolving alerts;
- ``engineer``: the operator's views, raw telemetry, cell data and exports;
- ``admin``: everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api import tokens
from services.api.errors import Forbidden, Unauthorized
from services.api.tokens import Principal

Permission = Literal["fleet:read", "alerts:read", "alerts:write", "telemetry:raw", "export"]

_OPERATOR: frozenset[Permission] = frozenset({"fleet:read", "alerts:read"})
PERMISSIONS: dict[str, frozenset[Permission]] = {
    "operator": _OPERATOR,
    "maintenance": _OPERATOR | {"alerts:write"},
    "engineer": _OPERATOR | {"telemetry:raw", "export"},
    "admin": _OPERATOR | {"alerts:write", "telemetry:raw", "export"},
}

_bearer = HTTPBearer(auto_error=False, description="API token: `pw_<id>_<secret>`")


def pool_of(request: Request) -> asyncpg.Pool:
    """The process's database pool, opened by the app's lifespan."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(pool_of)]


async def authenticate(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal; 401 unless a valid bearer token was sent."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required: Authorization: Bearer pw_<id>_<secret>")
    principal = await tokens.verify(pool_of(request), creds.credentials)
    if principal is None:
        raise Unauthorized("the token is malformed, unknown, expired or revoked")
    return principal


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits a valid token whose role holds ``permission`` (else 401/403)."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if permission not in PERMISSIONS.get(principal.role, frozenset()):
            raise Forbidden(f"role {principal.role!r} may not {permission}")
        return principal

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


FleetReader = Annotated[Principal, Depends(require("fleet:read"))]
RawReader = Annotated[Principal, Depends(require("telemetry:raw"))]
Exporter = Annotated[Principal, Depends(require("export"))]
#: For the alert routes: acknowledging and resolving alerts.
AlertWriter = Annotated[Principal, Depends(require("alerts:write"))]
AlertReader = Annotated[Principal, Depends(require("alerts:read"))]
