"""``packwatch api`` (serve the REST API) and ``packwatch token create | revoke | list``.

    packwatch api [--host H] [--port P]
    packwatch token create --role operator|maintenance|engineer|admin [--depot D ...]
                           [--expires-days N] [--description TEXT]
    packwatch token revoke <token-id>
    packwatch token list [--json]

``token create`` prints the token once; only its hash is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import asyncpg
from pydantic import ValidationError

from schemas.db.api_tables import ROLES
from services.api import tokens
from services.api.settings import ApiSettings
from services.core.admin_cli import run_admin


def _settings() -> ApiSettings:
    try:
        return ApiSettings()
    except ValidationError as exc:
        raise SystemExit(f"packwatch: bad settings:\n{exc}") from exc


def _dsn(settings: ApiSettings) -> str:
    """The configured database; the local server is started first when it is the default."""
    if not settings.external_database:
        from services.stack import local, postgres

        stack = local.LocalStack.from_settings(settings)
        if stack.postgres is not None:
            postgres.start(stack.postgres)
    return settings.dsn


def run_api(args: argparse.Namespace) -> int:
    """Serve the API with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    from services.api.app import create_app

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0


async def token_command(dsn: str, args: argparse.Namespace) -> tuple[int, list[str]]:
    """Run one ``token`` action against ``dsn``; returns (exit code, lines to print)."""
    conn = await asyncpg.connect(dsn)
    try:
        if args.action == "create":
            try:
                issued = await tokens.create(
                    conn, args.role, args.depot or None, args.expires_days, args.description
                )
            except ValueError as exc:
                return 2, [f"token: {exc}"]
            scope = ",".join(issued.depots) if issued.depots else "all depots"
            expiry = issued.expires_at.isoformat() if issued.expires_at else "never"
            return 0, [
                f"token id: {issued.token_id}  role: {issued.role}  depots: {scope}  "
                f"expires: {expiry}",
                "the token (shown once, store it now):",
                issued.token,
            ]
        if args.action == "revoke":
            if await tokens.revoke(conn, args.token_id):
                return 0, [f"token {args.token_id} revoked"]
            return 1, [f"token: no active token {args.token_id}"]
        rows = await tokens.list_tokens(conn)
        if args.json:
            return 0, [json.dumps(r, default=str, sort_keys=True) for r in rows]
        return 0, [_describe(r) for r in rows]
    finally:
        await conn.close()


def _describe(r: dict[str, Any]) -> str:
    state = "revoked" if r["revoked_at"] else "active"
    depots = ",".join(r["depots"]) if r["depots"] else "all"
    return f"{r['token_id']}  {r['role']:<11} {state:<7} depots={depots} expires={r['expires_at']}"


def run_token(args: argparse.Namespace) -> int:
    if args.action == "revoke" and not args.token_id:
        print("token revoke: a token id is required", file=sys.stderr)
        return 2
    if args.action == "create" and not args.role:
        print("token create: --role is required", file=sys.stderr)
        return 2
    return run_admin(token_command(_dsn(_settings()), args))


def register(subparsers: Any) -> None:
    """Add ``api`` and ``token`` to the ``packwatch`` command's subparsers."""
    api = subparsers.add_parser("api", help="serve the REST API (uvicorn)")
    api.add_argument("--host", help="bind address (default PACKWATCH_API_HOST or 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default PACKWATCH_API_PORT or 8080)")
    api.set_defaults(func=run_api)

    tok = subparsers.add_parser("token", help="issue, revoke and list API tokens")
    tok.add_argument("action", choices=["create", "revoke", "list"])
    tok.add_argument("token_id", nargs="?", help="revoke: the token's id")
    tok.add_argument("--role", choices=ROLES, help="create: the token's role")
    tok.add_argument("--depot", action="append", help="create: limit to this depot (repeatable)")
    tok.add_argument("--expires-days", type=float, help="create: days until it expires")
    tok.add_argument("--description", help="create: who or what the token is for")
    tok.add_argument("--json", action="store_true", help="list: one JSON object per line")
    tok.set_defaults(func=run_token)
