"""Bearer tokens: issue, parse, verify, revoke.

A token reads ``pw_<token_id>_<secret>``: ``token_id`` (12 hex digits) finds
the row, ``secret`` (32 random bytes, URL-safe base64) proves possession. Only
``sha256(secret)`` is stored and it is compared in constant time, so neither
a database dump nor response timing yields a usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from schemas.db.api_tables import ROLES

PREFIX = "pw_"
_TOKEN_RE = re.compile(r"^pw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role and depot scope (None = all depots)."""

    token_id: str
    role: str
    depots: tuple[str, ...] | None

    @property
    def depot_list(self) -> list[str] | None:
        """The scope as a query parameter (``$n::text[]``; NULL = all)."""
        return list(self.depots) if self.depots is not None else None


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str
    role: str
    depots: tuple[str, ...] | None
    expires_at: datetime | None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def parse(token: str) -> tuple[str, str] | None:
    """(token_id, secret) of a well-formed token, None otherwise."""
    m = _TOKEN_RE.match(token)
    return (m.group(1), m.group(2)) if m else None


LOOKUP_SQL = """SELECT secret_sha256, role, depots, expires_at, revoked_at
FROM api_tokens WHERE token_id = $1"""

#: ``revoke`` notifies this channel with the token id when the revocation
#: commits, so API processes drop what they hold of that token at once.
REVOKED_CHANNEL = "packwatch_api_token_revoked"


@dataclass(frozen=True)
class StoredToken:
    """A token's row as stored: the digest of its secret and what it grants."""

    secret_sha256: bytes
    role: str
    depots: tuple[str, ...] | None
    expires_at: datetime | None
    revoked_at: datetime | None


async def lookup(conn: asyncpg.Connection | asyncpg.Pool, token_id: str) -> StoredToken | None:
    """The stored row of ``token_id``; None when there is none."""
    row = await conn.fetchrow(LOOKUP_SQL, token_id)
    if row is None:
        return None
    return StoredToken(
        secret_sha256=bytes(row["secret_sha256"]),
        role=row["role"],
        depots=tuple(row["depots"]) if row["depots"] is not None else None,
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def judge(token_id: str, secret: str, stored: StoredToken | None) -> Principal | None:
    """The principal ``stored`` grants to ``secret``; None when unknown, wrong, expired or revoked.

    The secret is hashed and compared in constant time even for an unknown id,
    so timing does not tell ids apart.
    """
    digest = stored.secret_sha256 if stored is not None else b"\0" * 32
    if not hmac.compare_digest(_digest(secret), digest) or stored is None:
        return None
    if stored.revoked_at is not None:
        return None
    if stored.expires_at is not None and stored.expires_at <= datetime.now(UTC):
        return None
    return Principal(token_id=token_id, role=stored.role, depots=stored.depots)


async def verify(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Principal | None:
    """The principal of a valid token; None when malformed, unknown, expired or revoked."""
    parsed = parse(token)
    if parsed is None:
        return None
    token_id, secret = parsed
    return judge(token_id, secret, await lookup(conn, token_id))


async def create(
    conn: asyncpg.Connection,
    role: str,
    depots: list[str] | None = None,
    expires_days: float | None = None,
    description: str | None = None,
) -> IssuedToken:
    """Issue a token; the plain token is in the result and nowhere else.

    Raises ``ValueError`` for an unknown role or depot, or a non-positive expiry.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if expires_days is not None and expires_days <= 0:
        raise ValueError("--expires-days must be positive")
    if depots:
        known = {r["depot_id"] for r in await conn.fetch("SELECT depot_id FROM depots")}
        unknown = sorted(set(depots) - known)
        if unknown:
            raise ValueError(f"unknown depot(s): {', '.join(unknown)}")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    scope = sorted(set(depots)) if depots else None
    await conn.execute(
        """INSERT INTO api_tokens (token_id, secret_sha256, role, depots, description, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)""",
        token_id,
        _digest(secret),
        role,
        scope,
        description,
        expires,
    )
    return IssuedToken(
        token_id=token_id,
        token=f"{PREFIX}{token_id}_{secret}",
        role=role,
        depots=tuple(scope) if scope else None,
        expires_at=expires,
    )


async def revoke(conn: asyncpg.Connection, token_id: str) -> bool:
    """Revoke a token by id; False when no such token was active.

    One statement: the notification on :data:`REVOKED_CHANNEL` goes out when,
    and only if, the revocation commits.
    """
    notified = await conn.fetch(
        f"""WITH revoked AS (
            UPDATE api_tokens SET revoked_at = now()
            WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_id)
        SELECT pg_notify('{REVOKED_CHANNEL}', token_id) FROM revoked""",
        token_id,
    )
    return len(notified) == 1


async def list_tokens(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every token's metadata (never a secret or its hash), newest first."""
    rows = await conn.fetch(
        """SELECT token_id, role, depots, description, created_at, expires_at, revoked_at
        FROM api_tokens ORDER BY created_at DESC"""
    )
    return [dict(r) for r in rows]
