"""`packwatch decoder`: run one decoder consumer until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from services.core.logging import configure
from services.core.settings import CoreSettings
from services.core.shutdown import run_until_stopped
from services.decoder.errors import DlqLimitExceeded, ProduceFailed
from services.decoder.settings import DecoderSettings

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("decoder", help="decode telemetry.can.v1 bundles into telemetry.pack.v1")
    p.add_argument("--group", help="consumer group (default packwatch-decoder)")
    p.set_defaults(func=run)


async def _main(core: CoreSettings, settings: DecoderSettings, stop: asyncio.Event) -> None:
    from services.decoder.app import decoder_service

    async with decoder_service(core, settings) as service:
        log.info("decoder_started", group=settings.group_id, topic=settings.topic,
                 out_topic=settings.out_topic)  # fmt: skip
        await service.run(stop)
        log.info("decoder_stopped", samples=service.samples_out,
                 dead_lettered=service.dead_lettered)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        core = CoreSettings()
        overrides = {"group_id": args.group} if getattr(args, "group", None) else {}
        settings = DecoderSettings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"packwatch decoder: bad settings:\n{exc}") from exc
    configure(core.log_level, core.log_json)

    async def main(stop: asyncio.Event) -> None:
        await _main(core, settings, stop)

    try:
        asyncio.run(run_until_stopped(main, timeout_s=core.shutdown_timeout_s))
    except DlqLimitExceeded as exc:
        log.critical("dlq_limit_exceeded_stopping", error=str(exc))
        return 3
    except ProduceFailed as exc:
        log.critical("produce_failed_stopping", error=str(exc))
        return 4
    return 0
