"""Shared parts of the benchmarks: a stack to run on, a fresh database, figures."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Sequence
from typing import Any

import asyncpg

from schemas.db import migrate
from services.core.settings import CoreSettings
from services.stack import local


async def ensure_stack(settings: CoreSettings) -> None:
    """Start the local broker and database unless they run (or are external)."""
    # local.up runs its own event loop, so it runs in a thread of its own here.
    await asyncio.to_thread(local.up, local.LocalStack.from_settings(settings))


async def fresh_database(settings: CoreSettings, name: str) -> str:
    """Drop and create database ``name`` on the configured server; migrate it; return DSN."""
    base, _, _ = settings.dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = f"{base}/{name}"
    await asyncio.to_thread(migrate.upgrade, dsn)
    return dsn


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1])


def report(title: str, figures: dict[str, Any]) -> None:
    """Readable lines, then the figures as one JSON line (always the last line)."""
    print(f"\n== {title}")
    for key, value in figures.items():
        print(f"  {key:>32}: {value}")
    print(json.dumps(figures, sort_keys=True), flush=True)
