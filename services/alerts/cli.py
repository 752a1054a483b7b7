"""``packwatch alerts`` (run the service) and ``packwatch alert-routes`` (the routing table).

packwatch alerts [--group G]
packwatch alert-routes add ROUTE_ID (--webhook URL [--format json|slack|teams] | --email TO)
                           [--depot D] [--min-severity info|warning|critical]
packwatch alert-routes list | remove ROUTE_ID
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from services.alerts import routes_admin
from services.alerts.settings import AlertsSettings
from services.core.logging import configure
from services.core.settings import CoreSettings
from services.core.shutdown import run_until_stopped

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    """Add ``alerts`` and ``alert-routes`` to the ``packwatch`` command's subparsers."""
    p = sub.add_parser("alerts", help="turn pack.anomalies.v1 into alerts, messages, notifications")
    p.add_argument("--group", help="consumer group (default packwatch-alerts)")
    p.set_defaults(func=run)

    r = sub.add_parser("alert-routes", help="where alert notifications go, by depot and severity")
    r.add_argument("action", choices=["add", "list", "remove"])
    r.add_argument("route_id", nargs="?", help="add/remove: the route's id")
    r.add_argument("--webhook", help="add: POST notifications to this URL")
    r.add_argument("--format", choices=["json", "slack", "teams"], default="json")
    r.add_argument("--email", help="add: mail notifications to this address")
    r.add_argument("--depot", help="add: only this depot's alerts (default every depot)")
    r.add_argument("--min-severity", choices=["info", "warning", "critical"], default="warning")
    r.set_defaults(func=run_routes)


def _settings() -> tuple[CoreSettings, AlertsSettings]:
    try:
        return CoreSettings(), AlertsSettings()
    except ValidationError as exc:
        raise SystemExit(f"packwatch alerts: bad settings:\n{exc}") from exc


def run(args: argparse.Namespace) -> int:
    core, settings = _settings()
    if getattr(args, "group", None):
        settings = settings.model_copy(update={"group_id": args.group})
    configure(core.log_level, core.log_json)

    async def main(stop: asyncio.Event) -> None:
        from services.alerts.app import alerts_service

        async with alerts_service(core, settings) as service:
            log.info("alerts_started", group=settings.group_id, topic=settings.topic)
            await service.run(stop)
            log.info("alerts_stopped", published=service.relay.published)

    asyncio.run(run_until_stopped(main, timeout_s=core.shutdown_timeout_s))
    return 0


async def routes_command(dsn: str, args: argparse.Namespace) -> tuple[int, list[str]]:
    """Run one ``alert-routes`` action against ``dsn``; returns (exit code, lines)."""
    conn = await asyncpg.connect(dsn)
    try:
        if args.action == "list":
            return 0, [routes_admin.describe(r) for r in await routes_admin.list_routes(conn)]
        if not args.route_id:
            return 2, [f"alert-routes {args.action}: a route id is required"]
        if args.action == "remove":
            if await routes_admin.remove(conn, args.route_id):
                return 0, [f"route {args.route_id} removed"]
            return 1, [f"alert-routes: no route {args.route_id}"]
        if bool(args.webhook) == bool(args.email):
            return 2, ["alert-routes add: give exactly one of --webhook URL or --email ADDRESS"]
        route = routes_admin.Route(
            route_id=args.route_id,
            channel="webhook" if args.webhook else "email",
            format=args.format if args.webhook else "email",
            target=args.webhook or args.email,
            depot_id=args.depot,
            min_severity=args.min_severity,
        )
        try:
            await routes_admin.add(conn, route)
        except ValueError as exc:
            return 2, [f"alert-routes: {exc}"]
        return 0, [f"route {route.route_id}: {route.channel} {route.format} → {route.target}"]
    finally:
        await conn.close()


def run_routes(args: argparse.Namespace) -> int:
    core, _ = _settings()
    code, lines = asyncio.run(routes_command(core.dsn, args))
    for line in lines:
        print(line, file=sys.stderr if code else sys.stdout)
    return code
