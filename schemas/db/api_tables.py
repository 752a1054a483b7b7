"""The API's own tables: bearer tokens, stored hashed.

Defined on the same :data:`schemas.db.tables.metadata` as the fleet tables so
that one metadata object describes the whole database. A token reads
``pw_<token_id>_<secret>``; only ``sha256(secret)`` is kept, so a database dump
never yields a usable token.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, LargeBinary, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY

from schemas.db.tables import NOW, TSTZ, metadata

ROLES = ("operator", "maintenance", "engineer", "admin")

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("role", Text, nullable=False),
    # NULL = every depot; otherwise the token sees only these depots' vehicles.
    Column("depots", ARRAY(Text)),
    Column("description", Text),
    Column("created_at", TSTZ, nullable=False, server_default=NOW),
    Column("expires_at", TSTZ),
    Column("revoked_at", TSTZ),
    CheckConstraint(
        "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_api_tokens_role"
    ),
    CheckConstraint("octet_length(secret_sha256) = 32", name="ck_api_tokens_hash_len"),
)
