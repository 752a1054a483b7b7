"""A slow database holds scoring back no longer than ``history_wait_s``
(services/scoring/service.py ``_seed_history``), and a failed read costs its
vehicles their history, nothing more. The stored-history query itself runs
against PostgreSQL and TimescaleDB in the integration tests; here the pool is
a fake that answers only when the test says, the narrow seam a hung server
shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog

from schemas.examples import EXAMPLE_TS, example_pack_sample
from schemas.limits import PackLimits
from schemas.messages import encode
from services.core.metric_defs import new_registry
from services.scoring.samples import decode_scoring_samples
from services.scoring.scorer import Scorer
from services.scoring.service import ScoringService
from services.scoring.settings import ScoringSettings
from services.scoring.warm import WarmStart


class _HungPool:
    """A pool whose connections do not come until the test lets them fail: a database
    that accepts and does not answer, then fails (not retriably)."""

    def __init__(self) -> None:
        self.asked = 0
        self.fail = asyncio.Event()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        self.asked += 1
        await self.fail.wait()
        raise RuntimeError("connection dropped")
        yield None  # an async generator, for asynccontextmanager


async def test_a_hung_database_delays_scoring_by_the_wait_only() -> None:
    settings = ScoringSettings(history_wait_s=0.05, metrics_port=-1)
    pool = _HungPool()
    svc = ScoringService(settings, None, None, pool, Scorer(settings.model_dir),
                         new_registry(), lambda: False, WarmStart("unused:9092", 0.0))  # fmt: skip
    nmc = PackLimits(cells_in_series=176, temp_sensors=44)
    payloads = [encode(example_pack_sample(vehicle_id=f"BUS-000{k}", limits=nmc,
                                           ts=EXAMPLE_TS + timedelta(seconds=k)))
                for k in range(1, 4)]  # fmt: skip
    samples, _ = decode_scoring_samples(payloads)
    with structlog.testing.capture_logs() as logs:
        # Back with the read still pending: the wait is bounded (the fake never answers).
        await svc._seed_history(samples)
        assert pool.asked == 1 and svc._history is not None and not svc._history.done()
        assert set(svc._history_for) == {"BUS-0001", "BUS-0002", "BUS-0003"}
        # The next pass does not wait for the read in flight; new vehicles queue for the next.
        later = decode_scoring_samples([encode(example_pack_sample(
            vehicle_id="BUS-0009", limits=nmc, ts=EXAMPLE_TS))])[0]  # fmt: skip
        await svc._seed_history(later)
        assert pool.asked == 1 and set(svc._history_wanted) == {"BUS-0009"}
        pool.fail.set()  # the first read fails, with an error no retry would cure
        await asyncio.wait({svc._history}, timeout=30)
        pool.fail.clear()
        await svc._seed_history([])
    # The read gave up: its vehicles go without, the next one starts.
    assert [e["event"] for e in logs] == ["insulation_history_skipped"]
    assert "connection dropped" in logs[0]["error"]
    assert pool.asked == 2 and set(svc._history_for) == {"BUS-0009"}
    assert svc._history is not None
    svc._history.cancel()


async def test_a_read_that_never_ends_gives_up_at_its_limit() -> None:
    settings = ScoringSettings(history_wait_s=0.0, history_timeout_s=0.2, metrics_port=-1)
    pool = _HungPool()  # never let fail: a database that never answers
    svc = ScoringService(settings, None, None, pool, Scorer(settings.model_dir),
                         new_registry(), lambda: False, WarmStart("unused:9092", 0.0))  # fmt: skip
    nmc = PackLimits(cells_in_series=176, temp_sensors=44)
    samples, _ = decode_scoring_samples([encode(example_pack_sample(
        vehicle_id="BUS-0001", limits=nmc, ts=EXAMPLE_TS))])  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        await svc._seed_history(samples)
        assert svc._history is not None
        await asyncio.wait({svc._history}, timeout=30)  # ends by its own limit
        await svc._seed_history([])
    assert [e["event"] for e in logs] == ["insulation_history_skipped"]
    assert "TimeoutError" in logs[0]["error"] and svc._history is None
