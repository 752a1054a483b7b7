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

from typing import Annotated, Literal

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.errors import Forbidden, Unauthorized
from services.api.token_cache import TokenCache
from services.api.tokens import Principal

Permission = Literal["fleet:read", "alerts:read", "alerts:write", "telemetry:raw", "export"]

_OPERATOR: frozenset[Permission] = frozenset({"fleet:read", "alerts:read"})
PERMISSIONS: dict[str, frozenset[Permission]] = {
    "operator": _OPERATOR,
    "maintenance": _OPERATOR | {"alerts:write"},
    "engineer": _OPERATOR | {"telemetry:raw", "export"},
    "admin": _OPERATOR | {"alerts:write", "telemetry:raw", "export"},
}

_BEARER_DOC = "API token: `pw_<id>_<secret>`"


def pool_of(request: Request) -> asyncpg.Pool:
    """The process's database pool, opened by the app's lifespan."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def _pool(request: Request) -> asyncpg.Pool:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    # hand-off on every request for what is an attribute read.
    return pool_of(request)


Pool = Annotated[asyncpg.Pool, Depends(_pool)]


async def authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller's principal; 401 unless a valid bearer token was sent."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required: Authorization: Bearer pw_<id>_<secret>")
    cache: TokenCache = request.app.state.token_cache
    principal = await cache.verify(pool_of(request), creds.credentials)
    if principal is None:
        raise Unauthorized("the token is malformed, unknown, expired or revoked")
    return principal


class Require(HTTPBearer):
    """A dependency that admits a valid token whose role holds ``permission`` (else 401/403).

    One dependency reads the header, verifies the token and checks the role:
    FastAPI's bookkeeping per dependency was a sizeable share of a request's
    CPU when these were three. Being an ``HTTPBearer``, it still declares the
    bearer scheme in the OpenAPI spec.
    """

    def __init__(self, permission: Permission) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description=_BEARER_DOC)
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticate(request, await super().__call__(request))
        if self.permission not in PERMISSIONS.get(principal.role, frozenset()):
            raise Forbidden(f"role {principal.role!r} may not {self.permission}")
        return principal


FleetReader = Annotated[Principal, Depends(Require("fleet:read"))]
RawReader = Annotated[Principal, Depends(Require("telemetry:raw"))]
Exporter = Annotated[Principal, Depends(Require("export"))]
#: For the alert routes: acknowledging and resolving alerts.
AlertWriter = Annotated[Principal, Depends(Require("alerts:write"))]
AlertReader = Annotated[Principal, Depends(Require("alerts:read"))]
