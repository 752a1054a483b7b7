"""``packwatch alerts`` (run the service), ``packwatch alert-routes`` (the routing table) and
``packwatch alert-notifications`` (dead notifications, :mod:`services.alerts.requeue`).

packwatch alerts [--group G]
packwatch alert-routes add ROUTE_ID (--webhook URL [--format json|slack|teams] | --email TO)
                           [--depot D] [--min-severity info|warning|critical]
packwatch alert-routes list | remove ROUTE_ID
packwatch alert-notifications dead [--route R]
packwatch alert-notifications requeue (ID ... | --all) [--route R]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from services.alerts import requeue, routes_admin
from services.alerts.settings import AlertsSettings
from services.core.admin_cli import run_admin
from services.core.logging import configure
from services.core.settings import CoreSettings
from services.core.shutdown import run_until_stopped

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    """Add ``alerts``, ``alert-routes`` and ``alert-notifications`` to ``packwatch``'s
    subparsers."""
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

    n = sub.add_parser(
        "alert-notifications", help="dead notifications: list them, or send them again"
    )
    n.add_argument("action", choices=["dead", "requeue"])
    n.add_argument("ids", nargs="*", type=_notification_id, help="requeue: these notification ids")
    n.add_argument("--all", action="store_true", help="requeue: every dead notification")
    n.add_argument("--route", help="only notifications of this route")
    n.set_defaults(func=run_notifications)


def _notification_id(text: str) -> int:
    """A notification id as the table keeps it (bigint, from 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a notification id: {text!r}") from None
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"not a notification id: {text}")
    return value


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
    return run_admin(routes_command(_settings()[0].dsn, args))


async def notifications_command(dsn: str, args: argparse.Namespace) -> tuple[int, list[str]]:
    """Run one ``alert-notifications`` action against ``dsn``; returns (exit code, lines)."""
    if args.action == "dead" and (args.ids or args.all):
        return 2, ["alert-notifications dead: takes no ids (use --route to narrow it)"]
    if args.action == "requeue" and bool(args.ids) == bool(args.all):
        return 2, ["alert-notifications requeue: give notification ids, or --all"]
    conn = await asyncpg.connect(dsn)
    try:
        if args.action == "dead":
            return 0, [requeue.describe(r) for r in await requeue.dead(conn, args.route)]
        result = await requeue.requeue(conn, args.ids or None, args.route)
    finally:
        await conn.close()
    on_route = f" on route {args.route}" if args.route else ""
    lines = [f"requeued {len(result.requeued)}: {', '.join(map(str, result.requeued)) or '-'}"]
    lines += [f"skipped {nid}: {why}" for nid, why in result.skipped]
    lines += [f"no notification {nid}{on_route}" for nid in result.unknown]
    # Each notification asked for (by id, or dead with --all) and not requeued is a
    # failure a script should see; nothing dead to requeue is not.
    return (1 if result.unknown or result.skipped else 0), lines


def run_notifications(args: argparse.Namespace) -> int:
    return run_admin(notifications_command(_settings()[0].dsn, args))
