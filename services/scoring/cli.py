"""`packwatch scoring`: run one scoring consumer until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from services.core.service_cli import load_settings, run_service
from services.core.settings import CoreSettings
from services.scoring.errors import ModelsUnavailable
from services.scoring.settings import ScoringSettings

log = structlog.get_logger(__name__)


def register(sub: Any) -> None:
    """Add ``scoring`` to the packwatch command (``models`` lives in models.cli)."""
    p = sub.add_parser("scoring", help="score telemetry.pack.v1 into anomalies and pack_health")
    p.add_argument("--group", help="consumer group (default packwatch-scoring)")
    p.set_defaults(func=run)


async def _main(core: CoreSettings, settings: ScoringSettings, stop: asyncio.Event) -> None:
    from services.scoring.app import scoring_service

    async with scoring_service(core, settings, stop) as service:
        log.info("scoring_started", group=settings.group_id, topic=settings.topic)
        await service.run(stop)
        log.info("scoring_stopped", samples=service.samples_scored, events=service.events_sent,
                 health_rows=service.health_rows)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    core, settings = load_settings("scoring", ScoringSettings, args)

    async def main(stop: asyncio.Event) -> None:
        await _main(core, settings, stop)

    return run_service(core, main, {ModelsUnavailable: (3, "models_unavailable")})
