"""`packwatch ingest`: run one ingest consumer until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from services.core.logging import configure
from services.core.settings import CoreSettings
from services.core.shutdown import run_until_stopped
from services.ingest.errors import DlqLimitExceeded
from services.ingest.settings import IngestSettings

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="consume telemetry.pack.v1 into the database")
    p.add_argument("--group", help="consumer group (default packwatch-ingest)")
    p.set_defaults(func=run)


async def _main(core: CoreSettings, settings: IngestSettings, stop: asyncio.Event) -> None:
    from services.ingest.app import ingest_service

    async with ingest_service(core, settings, stop) as service:
        log.info("ingest_started", group=settings.group_id, topic=settings.topic)
        await service.run(stop)
        log.info("ingest_stopped", rows=service.rows_committed, dead_lettered=service.dead_lettered)


def run(args: argparse.Namespace) -> int:
    try:
        core = CoreSettings()
        overrides = {"group_id": args.group} if getattr(args, "group", None) else {}
        settings = IngestSettings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"packwatch ingest: bad settings:\n{exc}") from exc
    configure(core.log_level, core.log_json)

    async def main(stop: asyncio.Event) -> None:
        await _main(core, settings, stop)

    try:
        asyncio.run(run_until_stopped(main, timeout_s=core.shutdown_timeout_s))
    except DlqLimitExceeded as exc:
        log.critical("dlq_limit_exceeded_stopping", error=str(exc))
        return 3
    return 0
