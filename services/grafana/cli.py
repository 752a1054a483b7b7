"""``packwatch grafana build | check | sync``.

    packwatch grafana build [--check]          write infra/grafana (or fail if it drifted)
    packwatch grafana check [--json] [--dsn DSN] [--hours H] [--end ISO]
                                               run every SQL query against the database
    packwatch grafana sync [--url URL] [--token TOKEN]
                                               push everything to a running Grafana

``check`` prints one line per query and, last, one JSON line:
``{"dashboards", "panels", "queries_ok", "queries_failed", "raw_scans_in_overview"}``;
it exits 1 when a query failed or an overview panel scans raw samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.grafana.settings import GrafanaSettings


def _settings() -> GrafanaSettings:
    try:
        return GrafanaSettings()
    except ValidationError as exc:
        raise SystemExit(f"packwatch: bad settings:\n{exc}") from exc


def _dsn(settings: GrafanaSettings, given: str | None) -> str:
    """The database to check; the local server is started first when it is the default."""
    if given:
        return given
    if not settings.external_database:
        from services.stack import local, postgres

        stack = local.LocalStack.from_settings(settings)
        if stack.postgres is not None:
            postgres.start(stack.postgres)
    return settings.dsn


def cmd_build(args: argparse.Namespace) -> int:
    from services.grafana import render

    if args.check:
        drifted = render.drift()
        for name in drifted:
            print(f"drifted: infra/grafana/{name}")
        print("grafana build: up to date" if not drifted else "grafana build: run without --check")
        return 1 if drifted else 0
    changed = render.write()
    for path in changed:
        print(f"wrote infra/grafana/{path}")
    print(f"grafana build: {len(changed)} files changed")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from services.grafana import check, render

    end = datetime.fromisoformat(args.end) if args.end else datetime.now(UTC)
    if end.tzinfo is None:
        raise SystemExit("packwatch: --end needs a time zone (e.g. 2026-05-04T12:00:00+00:00)")
    start = end - timedelta(hours=args.hours)
    report = asyncio.run(check.check(_dsn(_settings(), args.dsn), render.ROOT, start, end))
    lines = list(report.lines())
    for line in lines if not args.json else lines[-1:]:
        print(line, flush=True)
    summary: dict[str, Any] = report.summary()
    return 1 if summary["queries_failed"] or summary["raw_scans_in_overview"] else 0


def cmd_sync(args: argparse.Namespace) -> int:
    from services.grafana import sync

    settings = _settings()
    token = args.token or settings.token
    if not token:
        raise SystemExit(
            "packwatch: a Grafana token is needed (--token or PACKWATCH_GRAFANA_TOKEN)"
        )
    changes = sync.sync(settings, args.url or settings.url, token)
    if args.json:
        print(json.dumps([c.__dict__ for c in changes]))
    else:
        for c in changes:
            print(f"{c.kind:>14} {c.name}: {c.action}")
    print(sync.summary(changes))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``grafana`` and its actions to the ``packwatch`` command."""
    gf = subparsers.add_parser("grafana", help="dashboards and alert rules as code")
    actions = gf.add_subparsers(dest="grafana_action", required=True)

    build = actions.add_parser("build", help="write infra/grafana from services/grafana")
    build.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    build.set_defaults(func=cmd_build)

    check = actions.add_parser("check", help="run every panel's and rule's SQL on the database")
    check.add_argument("--json", action="store_true", help="print only the JSON summary line")
    check.add_argument("--dsn", help="database to check (default: DATABASE_URL or the local one)")
    check.add_argument("--hours", type=float, default=24.0, help="time range length (24)")
    check.add_argument("--end", help="time range end, ISO 8601 with zone (default: now)")
    check.set_defaults(func=cmd_check)

    sync = actions.add_parser("sync", help="push folder, datasources, dashboards, alerting")
    sync.add_argument("--url", help="Grafana base URL (default PACKWATCH_GRAFANA_URL)")
    sync.add_argument("--token", help="service-account token (default PACKWATCH_GRAFANA_TOKEN)")
    sync.add_argument("--json", action="store_true", help="changes as one JSON line first")
    sync.set_defaults(func=cmd_sync)
