"""`packwatch decoder`: run one decoder consumer until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from services.core.service_cli import load_settings, run_service
from services.core.settings import CoreSettings
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
    core, settings = load_settings("decoder", DecoderSettings, args)

    async def main(stop: asyncio.Event) -> None:
        await _main(core, settings, stop)

    return run_service(
        core,
        main,
        {
            DlqLimitExceeded: (3, "dlq_limit_exceeded_stopping"),
            ProduceFailed: (4, "produce_failed_stopping"),
        },
    )
