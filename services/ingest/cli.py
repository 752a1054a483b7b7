"""`packwatch ingest`: run one ingest consumer until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from services.core.service_cli import load_settings, run_service
from services.core.settings import CoreSettings
from services.ingest.errors import DlqLimitExceeded
from services.ingest.settings import IngestSettings

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="consume telemetry.pack.v1 into the database")
    p.add_argument("--group", help="consumer group (default packwatch-ingest)")
    p.add_argument(
        "--workers",
        type=int,
        help="consumer processes in the group on this host, sharing the memory cap "
        "(default PACKWATCH_INGEST_WORKERS, 1)",
    )
    p.set_defaults(func=run)


async def _main(core: CoreSettings, settings: IngestSettings, stop: asyncio.Event) -> None:
    from services.ingest.app import ingest_service

    async with ingest_service(core, settings, stop) as service:
        log.info("ingest_started", group=settings.group_id, topic=settings.topic)
        await service.run(stop)
        log.info("ingest_stopped", rows=service.rows_committed, dead_lettered=service.dead_lettered)


def run(args: argparse.Namespace) -> int:
    core, settings = load_settings("ingest", IngestSettings, args)
    workers = args.workers if args.workers is not None else settings.workers
    if workers < 1:
        raise SystemExit("packwatch ingest: --workers must be at least 1")
    if workers > 1:
        from services.ingest.workers import become_supervisor

        become_supervisor(settings, workers)

    async def main(stop: asyncio.Event) -> None:
        await _main(core, settings, stop)

    return run_service(core, main, {DlqLimitExceeded: (3, "dlq_limit_exceeded_stopping")})
