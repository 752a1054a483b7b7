"""The scoring service against the real broker and database.

A simulated bus loses its coolant pump; its samples go through
telemetry.pack.v1 to the scoring service, which must publish a
cooling_failure AnomalyEvent (keyed by the bus) and write pack_health. A
second service in a fresh group replaying the same topic publishes the same
event ids and no others. A service stopped before the failure and started
again after it warms its windows up from the topic, and publishes what an
uninterrupted one does; so do two members sharing the partitions after the
second joins mid-stream (the first rewinds nothing it kept). A restarted
service judges insulation against the day's peak the database holds, beyond
the minutes it replays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import numpy as np
import pytest
from aiokafka import TopicPartition

from schemas.db import migrate
from schemas.events import AnomalyEvent
from schemas.examples import example_pack_sample
from schemas.fleet import NMC_R3
from schemas.limits import PackLimits
from schemas.messages import decode_anomaly_event, decode_pack_sample, encode
from schemas.pack_sample import PackSample
from services.core.kafka import open_consumer
from services.core.settings import CoreSettings
from services.ingest.rows import to_record
from services.scoring.app import scoring_service
from services.scoring.service import ScoringService
from services.scoring.settings import ScoringSettings
from services.simulator import FleetConfig, simulate_samples
from tests.conftest import NewTopicFactory
from tests.integration.db_support import store_rows
from tests.integration.ingest_support import produce

pytestmark = pytest.mark.integration

# Evening: the bus comes back nearly empty and charges at 120 kW, heat the dead
# pump can no longer carry away.
FAULTS = "cooling_failure:BUS-0001@45m:mode=pump:severity=1.0"
DURATION_S = 3 * 3600.0


def _samples() -> list[tuple[bytes, bytes]]:
    cfg = FleetConfig(
        buses=1, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC), faults=FAULTS, soc0=0.15
    )
    return [(s.vehicle_id.encode(), encode(s))
            for batch in simulate_samples(cfg, DURATION_S, dt=10.0) for s in batch]  # fmt: skip


def _settings(samples: str, group: str, anomalies: str) -> ScoringSettings:
    return ScoringSettings(topic=samples, anomalies_topic=anomalies, group_id=group,
                           metrics_port=-1, batch_max_ms=100)  # fmt: skip


async def _two_runs(database: str, new_topic: NewTopicFactory) -> tuple[str, str, str]:
    """A migrated database; a samples topic and an anomalies topic for each of two runs."""
    await asyncio.to_thread(migrate.upgrade, database)
    return await new_topic("pack", 3), await new_topic("anom", 3), await new_topic("anom", 3)


@asynccontextmanager
async def _running(core: CoreSettings, settings: ScoringSettings) -> AsyncIterator[ScoringService]:
    stop = asyncio.Event()
    async with scoring_service(core, settings, stop) as service:
        task = asyncio.create_task(service.run(stop))
        try:
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


async def _drain(service: ScoringService, n: int, limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    # The service counts in its own task; polling the counter is the simplest wait.
    while service.samples_scored < n and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def _events(bootstrap: str, topic: str) -> list[tuple[bytes, AnomalyEvent]]:
    out = []
    async with open_consumer(bootstrap, [topic], group_id=None) as c:
        batch = await c.getmany(timeout_ms=3000)
        while batch:
            out += [(m.key, decode_anomaly_event(m.value)) for ms in batch.values() for m in ms]
            batch = await c.getmany(timeout_ms=1000)
    return out


async def test_cooling_failure_event_health_rows_and_replay(
    kafka_bootstrap: str, new_topic: NewTopicFactory, database: str
) -> None:
    await asyncio.to_thread(migrate.upgrade, database)
    samples_topic = await new_topic("pack", 3)
    anomalies_topic = await new_topic("anom", 3)
    items = await asyncio.to_thread(_samples)
    await produce(kafka_bootstrap, samples_topic, items)
    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)

    def settings(group: str) -> ScoringSettings:
        return _settings(samples_topic, group, anomalies_topic)

    async with _running(core, settings("score-a")) as svc:
        await _drain(svc, len(items))
        assert svc.samples_scored == len(items)
    first = await _events(kafka_bootstrap, anomalies_topic)
    kinds = {e.kind.value for _, e in first}
    assert "cooling_failure" in kinds, kinds
    assert all(k == e.vehicle_id.encode() for k, e in first)
    t0 = decode_pack_sample(items[0][1]).ts.timestamp()
    # Decided after the pump failed (45 min in), allowing for the bus clock's offset.
    cooling = [e for _, e in first if e.kind.value == "cooling_failure"
               and e.state.value == "active" and e.ts.timestamp() >= t0 + 45 * 60 - 30]  # fmt: skip
    assert cooling and cooling[0].evidence["coolant_dt_c"]
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT * FROM pack_health WHERE vehicle_id = 'BUS-0001'")
    finally:
        await conn.close()
    assert rows, "no pack_health rows"
    assert all(r["soh_low_pct"] <= r["soh_pct"] <= r["soh_high_pct"] for r in rows)

    # Replay: a fresh group reads the topic from the start and republishes.
    async with _running(core, settings("score-b")) as svc:
        await _drain(svc, len(items))
    both = await _events(kafka_bootstrap, anomalies_topic)
    assert {e.event_id for _, e in both} == {e.event_id for _, e in first}
    assert len(both) == 2 * len(first)


async def test_a_restarted_service_warms_up_and_says_what_an_uninterrupted_one_says(
    kafka_bootstrap: str, new_topic: NewTopicFactory, database: str
) -> None:
    samples_topic, restarted_out, uninterrupted_out = await _two_runs(database, new_topic)
    items = await asyncio.to_thread(_samples)
    # Stopped 40 minutes in, before the pump fails at 45; started again after.
    cut = 240  # 10 s apart
    restart_ts = decode_pack_sample(items[cut][1]).ts.timestamp()
    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)

    await produce(kafka_bootstrap, samples_topic, items[:cut])
    async with _running(core, _settings(samples_topic, "restarted", restarted_out)) as svc:
        await _drain(svc, cut)
        assert (svc.samples_scored, svc.samples_warmed) == (cut, 0)  # a new group: cold
    await produce(kafka_bootstrap, samples_topic, items[cut:])
    async with _running(core, _settings(samples_topic, "restarted", restarted_out)) as svc:
        await _drain(svc, len(items) - cut)
        # The 40 minutes before its committed offset scored again, their results dropped.
        assert (svc.samples_scored, svc.samples_warmed) == (len(items) - cut, cut)
        reg, label = svc.metrics.registry, {"service": "scoring"}
        assert reg.get_sample_value("packwatch_warm_samples_total", label) == cut
        assert reg.get_sample_value("packwatch_warming_partitions", label) == 0  # warmed up
    async with _running(core, _settings(samples_topic, "uninterrupted", uninterrupted_out)) as svc:
        await _drain(svc, len(items))
    restarted = await _events(kafka_bootstrap, restarted_out)
    uninterrupted = await _events(kafka_bootstrap, uninterrupted_out)
    cooling = [e for _, e in uninterrupted if e.kind.value == "cooling_failure"]
    # Found within 30 minutes of the restart: a cold scorer's models and cooling
    # checks would still be waiting for their history then.
    assert cooling and cooling[0].ts.timestamp() - restart_ts < 1800
    assert sorted(e.event_id for _, e in restarted) == sorted(e.event_id for _, e in uninterrupted)


async def test_a_member_joining_warms_up_what_it_takes_over_and_the_other_goes_on(
    kafka_bootstrap: str, new_topic: NewTopicFactory, database: str
) -> None:
    samples_topic, shared_out, uninterrupted_out = await _two_runs(database, new_topic)
    cfg = FleetConfig(buses=6, seed=5, start=datetime(2026, 5, 4, 11, tzinfo=UTC),
                      faults=FAULTS, soc0=0.15)  # fmt: skip
    items = [(s.vehicle_id.encode(), encode(s))
             for b in simulate_samples(cfg, 2 * 3600.0, dt=10.0) for s in b]  # fmt: skip
    cut = 6 * 240  # 40 minutes of six buses, before the pump fails at 45
    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)

    await produce(kafka_bootstrap, samples_topic, items[:cut])
    async with open_consumer(kafka_bootstrap, [], group_id=None) as c:
        before = await c.end_offsets([TopicPartition(samples_topic, p) for p in range(3)])
    async with _running(core, _settings(samples_topic, "shared", shared_out)) as first:
        await _drain(first, cut)
        async with _running(core, _settings(samples_topic, "shared", shared_out)) as second:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                owned = [svc.consumer.assignment() for svc in (first, second)]
                if all(owned) and len(owned[0] | owned[1]) == 3:
                    break
                await asyncio.sleep(0.2)
            assert all(owned) and len(owned[0] | owned[1]) == 3  # the partitions shared out
            await produce(kafka_bootstrap, samples_topic, items[cut:])
            deadline = time.monotonic() + 90
            scored = 0
            while scored < len(items) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                scored = first.samples_scored + second.samples_scored
            assert scored == len(items)
            # What it took over is scored again from the start (the topic was filled
            # at once); the first member kept its windows and rewound nothing.
            assert second.samples_warmed == sum(before[tp] for tp in owned[1]) > 0
            assert first.samples_warmed == 0
            label = {"service": "scoring"}
            warm = [svc.metrics.registry.get_sample_value("packwatch_warm_samples_total", label)
                    for svc in (first, second)]  # fmt: skip
            assert warm == [0.0, second.samples_warmed]  # a series from the start, then the replay
            for svc in (first, second):
                assert (
                    svc.metrics.registry.get_sample_value("packwatch_warming_partitions", label)
                    == 0
                )
    async with _running(core, _settings(samples_topic, "uninterrupted", uninterrupted_out)) as svc:
        await _drain(svc, len(items))
    shared = sorted(e.event_id for _, e in await _events(kafka_bootstrap, shared_out))
    uninterrupted = [e for _, e in await _events(kafka_bootstrap, uninterrupted_out)]
    assert any(e.kind.value == "cooling_failure" for e in uninterrupted)
    assert shared == sorted(e.event_id for e in uninterrupted)


def _insulation_level(t_h: float) -> float:
    """A slow insulation fault (share of its healthy 4,000 kOhm) at ``t_h`` hours in:
    40 % of the day's peak at 2.5 h, no change over the hour before the restart at
    3.5 h, then on down to 50 % by 4.5 h."""
    if t_h < 0.5:
        return 1.0
    if t_h < 2.5:
        return 1.0 - 0.125 * (t_h - 0.5)
    if t_h < 3.5:
        return 0.75
    return max(0.5, 0.75 - 0.25 * (t_h - 3.5))


async def test_a_restarted_service_judges_insulation_against_the_stored_day(
    kafka_bootstrap: str, new_topic: NewTopicFactory, database: str
) -> None:
    """The warm-up replays 35 minutes; the day's insulation peak comes from the rollups.

    The fall has not crossed 60 % of the peak at the restart, and after it reaches
    50 % of the peak but only 67 % of the replayed minutes' level: a restarted
    service that reads the stored hours raises it, one whose database holds no
    history of the bus does not.
    """
    samples_topic, no_history_out, history_out = await _two_runs(database, new_topic)
    # Yesterday morning: recent, since the records carry their vehicle time and the
    # broker deletes a log whose records are older than its retention; at a fixed
    # time of day, since the simulated duty follows the clock.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start_at = today - timedelta(days=1) + timedelta(hours=6)
    cfg, start = FleetConfig(buses=1, seed=5, start=start_at), start_at.timestamp()
    items, samples, stamps = [], [], []
    for batch in await asyncio.to_thread(lambda: list(simulate_samples(cfg, 5 * 3600.0, 10.0))):
        for s in batch:
            level = _insulation_level((s.ts.timestamp() - start) / 3600.0)
            s = msgspec.structs.replace(s, insulation_kohm=round(4000.0 * level))
            samples.append(s)
            items.append((s.vehicle_id.encode(), encode(s)))
            stamps.append(int(s.ts.timestamp() * 1000))  # a live stream's record times
    cut = 3 * 360 + 180  # 3.5 h, 10 s apart
    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)
    await produce(kafka_bootstrap, samples_topic, items[:cut], stamps[:cut])
    for group, out in (("no-history", no_history_out), ("history", history_out)):
        async with _running(core, _settings(samples_topic, group, out)) as svc:
            await _drain(svc, cut)
            assert svc.samples_scored == cut
    before = await _events(kafka_bootstrap, history_out)
    assert not [e for _, e in before if e.kind.value == "insulation_fault"]  # not crossed yet
    await produce(kafka_bootstrap, samples_topic, items[cut:], stamps[cut:])

    async def restarted(group: str, out: str) -> list[AnomalyEvent]:
        async with _running(core, _settings(samples_topic, group, out)) as svc:
            await _drain(svc, len(items) - cut)
            assert svc.samples_scored == len(items) - cut
            # The warm-up before the restart scored again, 10 s apart (one sample
            # late: it starts at the first record at or after its time).
            replayed = round(svc.settings.warmup_s / 10.0)
            assert replayed - 1 <= svc.samples_warmed <= replayed + 1, svc.samples_warmed
        return [e for _, e in await _events(kafka_bootstrap, out)
                if e.kind.value == "insulation_fault"]  # fmt: skip

    assert await restarted("no-history", no_history_out) == []
    # The first 3.5 hours as ingestion stores them: raw rows and their rollups.
    rows = [to_record(s) for s in samples[:cut]]
    conn = await asyncpg.connect(database)
    try:
        await store_rows(conn, rows)
    finally:
        await conn.close()
    found = await restarted("history", history_out)
    assert found and found[0].state.value == "active", found
    # The stored day's peak: the highest of the stored hours' lowest readings (the
    # rollups keep minima), the first clock hour's.
    lowest: dict[int, float] = {}
    for s in samples[:cut]:
        h = int(s.ts.timestamp() // 3600)
        lowest[h] = min(lowest.get(h, np.inf), float(s.insulation_kohm or 0.0))
    assert found[0].evidence["daily_peak_kohm"] == max(lowest.values()) > 3700.0
    assert float(found[0].evidence["ratio"]) < 0.6  # type: ignore[arg-type]
    assert found[0].ts.timestamp() - start > 3.5 * 3600.0


def _pump_samples(start: datetime, hours: float, excess_from_s: float) -> list[PackSample]:
    """A bus at a steady 0.2 C whose coolant rises 1 degC, then from ``excess_from_s``
    on 3 degC: 2.2 degC over what its load explains (0.8), a partly failed pump under
    the instant check's 2.8, found by the sustained one after 15 minutes. The chiller
    holds the inlet at its 24 degC set point, as the loop's specification says."""
    nmc = PackLimits(cells_in_series=NMC_R3.cells_series, temp_sensors=NMC_R3.temp_sensors)
    base = example_pack_sample(vehicle_id="BUS-0001", ts=start, limits=nmc)
    out = []
    for k in range(int(hours * 360)):
        ts = start + timedelta(seconds=10 * k)
        out.append(msgspec.structs.replace(
            base, ts=ts, received_at=ts, seq=k, pack_current_a=-0.2 * NMC_R3.nominal_ah,
            cell_temps=[30.0] * NMC_R3.temp_sensors, coolant_inlet_c=24.0,
            coolant_outlet_c=27.0 if 10 * k >= excess_from_s else 25.0, ambient_c=32.0,
        ))  # fmt: skip
    return out


async def test_a_restarted_service_rebuilds_the_sustained_coolant_rise(
    kafka_bootstrap: str, new_topic: NewTopicFactory, database: str
) -> None:
    """The sustained check holds its 15 minutes across the restart: the replay rebuilds
    them, and the restarted service raises the pump with the uninterrupted one's id."""
    samples_topic, restarted_out, uninterrupted_out = await _two_runs(database, new_topic)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=1) + timedelta(hours=6)
    # The rise starts 40 minutes in; the restart is at 60, before the 15 minutes are up.
    samples = _pump_samples(start, 2.0, excess_from_s=40 * 60)
    items = [(s.vehicle_id.encode(), encode(s)) for s in samples]
    stamps = [int(s.ts.timestamp() * 1000) for s in samples]
    cut = 360
    core = CoreSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=database)
    await produce(kafka_bootstrap, samples_topic, items[:cut], stamps[:cut])
    async with _running(core, _settings(samples_topic, "restarted", restarted_out)) as svc:
        await _drain(svc, cut)
        assert svc.samples_scored == cut
    await produce(kafka_bootstrap, samples_topic, items[cut:], stamps[cut:])
    async with _running(core, _settings(samples_topic, "restarted", restarted_out)) as svc:
        await _drain(svc, len(items) - cut)
        assert svc.samples_scored == len(items) - cut
        assert abs(svc.samples_warmed - round(svc.settings.warmup_s / 10.0)) <= 1
    async with _running(core, _settings(samples_topic, "uninterrupted", uninterrupted_out)) as svc:
        await _drain(svc, len(items))
        assert svc.samples_scored == len(items)

    def cooling(events: list[tuple[bytes, AnomalyEvent]]) -> list[AnomalyEvent]:
        return [e for _, e in events if e.kind.value == "cooling_failure"]

    restarted = cooling(await _events(kafka_bootstrap, restarted_out))
    uninterrupted = cooling(await _events(kafka_bootstrap, uninterrupted_out))
    assert uninterrupted, "the sustained rise was not found"
    e = uninterrupted[0]
    # Decided after the restart, by the sustained rise: held 15 minutes, under 2.8.
    assert e.ts.timestamp() - start.timestamp() > 60 * 60
    keys = ("coolant_excess_held_s", "coolant_dt_c", "coolant_dt_expected_c")
    held, dt, expected = (float(e.evidence[k]) for k in keys)  # type: ignore[arg-type]
    assert held >= 900.0 - 1.0 and 2.0 <= dt - expected < 2.8
    assert [x.event_id for x in restarted] == [x.event_id for x in uninterrupted]
