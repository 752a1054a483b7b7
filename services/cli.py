"""The ``packwatch`` command: one entry point that starts any part of the system.

    packwatch infra up [--timescale-compat] | down | status [--json] | topics
    packwatch db migrate | downgrade | seed --fleet demo | check [--json]
    packwatch run              the local stack and every service, until Ctrl-C

Each later part registers its subcommand in :data:`SERVICES` below.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from services.core.settings import PROJECT_ROOT, CoreSettings
from services.stack import kafka, local, postgres
from services.stack.proc import StackError

# Long-running services that `packwatch run` starts, in start order: name → argv.
SERVICES: dict[str, list[str]] = {
    "ingest": ["ingest"],
    "decoder": ["decoder"],
    "api": ["api"],
    "scoring": ["scoring"],
    "alerts": ["alerts"],
    # A small demo fleet (the buses `db seed --fleet demo` registers), in real time.
    "simulator": ["simulate", "--buses", "24", "--speed", "1", "--out-dir", ".packwatch/sim"],
}

# Modules that add their subcommands with ``register(subparsers)``.
PLUGINS: tuple[str, ...] = (
    "services.simulator.cli",
    "services.decoder.cli",
    "services.ingest.cli",
    "services.api.cli",
    "services.scoring.cli",
    "models.cli",
    "services.alerts.cli",
    "services.grafana.cli",
)


def _settings() -> CoreSettings:
    try:
        return CoreSettings()
    except ValidationError as exc:
        raise SystemExit(f"packwatch: bad settings:\n{exc}") from exc


def _print_report(report: dict[str, str]) -> None:
    for part, what in report.items():
        print(f"{part:>16}: {what}", flush=True)


def cmd_infra(args: argparse.Namespace) -> int:
    stack = local.LocalStack.from_settings(_settings())
    if args.action == "topics":
        created = asyncio.run(kafka.ensure_topics(stack.bootstrap))
        print(f"topics: {'created ' + ', '.join(created) if created else 'all present'}")
    elif args.action == "up":
        _print_report(local.up(stack, timescale_compat=args.timescale_compat))
    elif args.action == "down":
        _print_report(local.down(stack))
    else:
        st = local.status(stack)
        if args.json:
            print(json.dumps(st, sort_keys=True))
        else:
            for part, info in st.items():
                state = {True: "running", False: "stopped", None: "external"}[info.get("running")]
                detail = ", ".join(f"{k}={v}" for k, v in info.items() if k != "running")
                print(f"{part:>16}: {state} ({detail})")
        wanted = [info.get("running") for info in st.values()]
        return 1 if False in wanted else 0
    return 0


def _database_dsn(settings: CoreSettings) -> str:
    """The configured database; the local server is started first when it is the default."""
    stack = local.LocalStack.from_settings(settings)
    if stack.postgres is not None:
        postgres.start(stack.postgres)
    return settings.dsn


def cmd_db(args: argparse.Namespace) -> int:
    from schemas.db import migrate
    from services.core import dbadmin

    settings = _settings()
    dsn = _database_dsn(settings)
    if args.action == "migrate":
        migrate.upgrade(dsn, args.revision or "head")
        print(f"db: migrated to {args.revision or 'head'}")
    elif args.action == "downgrade":
        migrate.downgrade(dsn, args.revision or "base")
        print(f"db: downgraded to {args.revision or 'base'}")
    elif args.action == "seed":
        counts = asyncio.run(dbadmin.seed(dsn, args.fleet, args.buses))
        print("db: seeded " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    else:
        rels = asyncio.run(dbadmin.relations(dsn))
        result: dict[str, object] = {"relations": rels}
        missing = sorted(dbadmin.expected_relations() - set(rels))
        if missing:
            result["missing"] = missing
        if not args.no_timescale:
            ts = local.timescale_module()
            ts.start(settings.state_dir, settings.timescale_compat_port, PROJECT_ROOT)
            ts_dsn = ts.dsn(settings.timescale_compat_port)
            migrate.upgrade(ts_dsn)
            result["timescale"] = asyncio.run(dbadmin.timescale_objects(ts_dsn))
        if args.json:
            print(json.dumps(result, sort_keys=True, default=str))
        else:
            for key, value in result.items():
                print(f"{key}: {value}")
        return 1 if missing else 0
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Bring the stack up, start every service, wait for Ctrl-C, stop what was started."""
    from schemas.db import migrate
    from services.core import dbadmin

    settings = _settings()
    stack = local.LocalStack.from_settings(settings)
    _print_report(local.up(stack))
    migrate.upgrade(settings.dsn)
    counts = asyncio.run(dbadmin.seed(settings.dsn, "demo"))
    print(f"{'database':>16}: migrated; demo fleet of {counts['vehicles']} buses", flush=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exe = [sys.executable, "-m", "services.cli"]
    try:
        for name, argv in SERVICES.items():
            # Own sessions: Ctrl-C reaches only this process, which then asks each
            # service to stop once (a second signal would make them exit at once).
            children[name] = subprocess.Popen([*exe, *argv], start_new_session=True)  # noqa: S603
            print(f"{name:>16}: started (pid {children[name].pid})", flush=True)
        print("packwatch is running; press Ctrl-C to stop.", flush=True)
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name:>16}: exited with {child.returncode}", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in children.items():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
            print(f"{name:>16}: stopped", flush=True)
        if not args.keep_infra:
            _print_report(local.down(stack))
    return 0


Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packwatch", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="the local Kafka broker and PostgreSQL server")
    infra.add_argument(
        "action",
        choices=["up", "down", "status", "topics"],
        help="topics: create the declared topics on the configured broker (external too)",
    )
    infra.add_argument(
        "--timescale-compat",
        action="store_true",
        help="also start the TimescaleDB compatibility target (up)",
    )
    infra.add_argument("--json", action="store_true", help="status as one JSON line")
    infra.set_defaults(func=cmd_infra)

    db = sub.add_parser("db", help="migrate, seed and check the database")
    db.add_argument("action", choices=["migrate", "downgrade", "seed", "check"])
    db.add_argument("--revision", help="target revision (migrate: head, downgrade: base)")
    db.add_argument("--fleet", default="demo", help="seed: which fleet (demo)")
    db.add_argument("--buses", type=int, default=24, help="seed: how many demo buses")
    db.add_argument("--json", action="store_true", help="check: one JSON line")
    db.add_argument(
        "--no-timescale",
        action="store_true",
        help="check: skip migrating and reading the TimescaleDB compatibility target",
    )
    db.set_defaults(func=cmd_db)

    for module in PLUGINS:
        importlib.import_module(module).register(sub)

    run = sub.add_parser("run", help="the local stack and every service, until Ctrl-C")
    run.add_argument(
        "--keep-infra", action="store_true", help="leave Kafka and PostgreSQL running on exit"
    )
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except StackError as exc:
        print(f"packwatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
