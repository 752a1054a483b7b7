"""The decoder against the real broker: bundles in, PackSamples out, bad input dead-lettered.

Delivery is at least once: a decoder killed mid-stream re-reads from its last
committed offsets, so a restart may produce some samples twice but never
loses one. Duplicates are harmless downstream because ingest stores samples
idempotently on (vehicle, ts).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiokafka import TopicPartition

from schemas.can.bundle import CanBundle, Frame, encode_bundle, encode_signals
from schemas.can.samples import plausible_input
from schemas.messages import decode_pack_sample
from schemas.pack_sample import PackSample
from services.core.kafka import open_consumer
from services.core.settings import PROJECT_ROOT, CoreSettings
from services.decoder.app import decoder_service
from services.decoder.service import DecoderService
from services.decoder.settings import DecoderSettings
from tests.conftest import NewTopicFactory
from tests.integration.ingest_support import produce

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
SHAPES = [(176, 44), (204, 48)]  # NMC-R3 and LFP-CALB-R1


class Bus:
    """One vehicle's bus-seconds: fixed frames, new timestamp and sequence each second."""

    def __init__(self, vid: str, seed: int) -> None:
        self.vid = vid
        cells, sensors = SHAPES[seed % 2]
        self.input = plausible_input(np.random.default_rng(seed), cells, sensors)
        # Half the buses charge (current > 0 under VSS), half drive (< 0).
        self.input.state["HVESS_Current"] = 120.35 if seed % 2 else -250.4
        self.frames = encode_signals(
            self.input.state,
            cell_voltages=self.input.cell_voltages,
            temperatures=self.input.temperatures,
            faults=self.input.faults,
            source_address=0x40 + seed,
        )

    def payload(self, seq: int, frames: list[Frame] | None = None) -> bytes:
        bundle = CanBundle.at(self.vid, T0 + timedelta(seconds=seq), seq, frames or self.frames)
        return encode_bundle(bundle)


def settings_for(
    bootstrap: str, topic: str, out: str, dlq: str, group: str, **extra: Any
) -> tuple[CoreSettings, DecoderSettings]:
    values: dict[str, Any] = {
        "topic": topic,
        "out_topic": out,
        "dlq_topic": dlq,
        "group_id": group,
        "metrics_port": 0,
        "poll_timeout_ms": 100,
    }
    values.update(extra)
    return CoreSettings(kafka_bootstrap_servers=bootstrap), DecoderSettings(**values)


@asynccontextmanager
async def running_decoder(
    core: CoreSettings, settings: DecoderSettings
) -> AsyncIterator[DecoderService]:
    """A decoder running in this event loop for the block; stopped cleanly after."""
    stop = asyncio.Event()
    async with decoder_service(core, settings) as service:
        task = asyncio.create_task(service.run(stop))
        try:
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


async def read_all(bootstrap: str, topic: str, expected: int, limit_s: float = 60) -> list[Any]:
    """Every record of ``topic`` from the start, once at least ``expected`` arrived."""
    out: list[Any] = []
    deadline = time.monotonic() + limit_s
    group = f"read-{uuid.uuid4().hex[:6]}"
    async with open_consumer(bootstrap, [topic], group_id=group) as c:
        while len(out) < expected and time.monotonic() < deadline:
            for records in (await c.getmany(timeout_ms=500)).values():
                out.extend(records)
        # Anything beyond the expected count (duplicates) is there by now too.
        for records in (await c.getmany(timeout_ms=1000)).values():
            out.extend(records)
    return out


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    async with open_consumer(bootstrap, [], group_id=None) as c:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        return sum((await c.end_offsets(parts)).values())


async def committed(bootstrap: str, topic: str, group: str, partitions: int) -> int:
    async with open_consumer(bootstrap, [], group_id=group) as c:
        return sum([(await c.committed(TopicPartition(topic, p))) or 0 for p in range(partitions)])


def by_vehicle(records: list[Any]) -> dict[str, list[PackSample]]:
    out: dict[str, list[PackSample]] = defaultdict(list)
    for r in records:
        s = decode_pack_sample(r.value)
        assert r.key == s.vehicle_id.encode()
        out[s.vehicle_id].append(s)
    return out


def check_values(s: PackSample, bus: Bus) -> None:
    st, inp = bus.input.state, bus.input
    assert s.ts == T0 + timedelta(seconds=s.seq)
    assert s.pack_voltage_v == pytest.approx(st["HVESS_Voltage"], abs=0.025)
    assert s.pack_current_a == pytest.approx(st["HVESS_Current"], abs=0.025)
    assert s.soc_pct == pytest.approx(st["HVESS_FastSoC"], abs=0.00125)
    assert len(s.cell_voltages) == len(inp.cell_voltages)
    assert len(s.cell_temps) == len(inp.temperatures)
    np.testing.assert_allclose(s.cell_voltages, inp.cell_voltages, atol=0.0005)
    np.testing.assert_allclose(s.cell_temps, inp.temperatures, atol=0.5)
    assert s.cell_voltage_max_v == max(s.cell_voltages)
    assert s.cell_temp_min_idx == s.cell_temps.index(min(s.cell_temps))
    assert s.received_at is not None and s.received_at > T0


async def test_bundles_become_pack_samples_in_order_and_bad_ones_are_dead_lettered(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic, out, dlq = await new_topic("can", 3), await new_topic("pack", 3), await new_topic("dlq")
    buses = [Bus(f"KA01-EB-{i:04d}", seed=i) for i in range(6)]
    seconds = 40
    items: list[tuple[bytes, bytes]] = []
    bad: dict[bytes, str] = {}  # poison payload -> reason (garbage repeats itself)
    n_bad = 0
    for seq in range(seconds):
        for n, bus in enumerate(buses):
            key = bus.vid.encode()
            items.append((key, bus.payload(seq)))
            if seq % 10 == 3 and n < 4:
                good = bus.payload(1000 + seq)
                first_id, _, first_data = bus.frames[0]
                poison, reason = [
                    (b"\x00garbage\xff" * 7, "bad_magic"),
                    (good[: len(good) - 20], "truncated"),
                    (bus.payload(1000 + seq, [(first_id, 6, first_data[:6]), *bus.frames[1:]]),
                     "wrong_dlc"),
                    (b"", "empty_payload"),
                ][n]  # fmt: skip
                items.append((key, poison))
                bad[poison] = reason
                n_bad += 1
    await produce(kafka_bootstrap, topic, items)

    core, settings = settings_for(kafka_bootstrap, topic, out, dlq, "g-dec", batch_max_bundles=64)
    expected = len(buses) * seconds
    async with running_decoder(core, settings) as service:
        samples = await read_all(kafka_bootstrap, out, expected)
        letters = await read_all(kafka_bootstrap, dlq, n_bad)
        assert service.metrics_port is not None
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{service.metrics_port}"
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200 and (await r.json())["checks"] == {"kafka": True}
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
        assert 'packwatch_dlq_messages_total{reason="wrong_dlc",service="decoder"} 4.0' in text
    assert service.samples_out == expected and service.dead_lettered == n_bad
    assert f'packwatch_decoder_samples_out_total{{topic="{out}"}} {expected}.0' in text

    # Every good bundle exactly once (no failure happened), in each vehicle's order.
    assert len(samples) == expected
    got = by_vehicle(samples)
    for bus in buses:
        assert [s.seq for s in got[bus.vid]] == list(range(seconds))
        for s in got[bus.vid]:
            check_values(s, bus)

    # Dead letters keep the payload, say why, and point at the source record.
    assert len(letters) == n_bad
    async with open_consumer(kafka_bootstrap, [], group_id=None) as src:
        for letter in letters:
            h = {k: v.decode() for k, v in letter.headers}
            assert h["reason"] == bad[letter.value] and h["detail"]
            assert (h["source_topic"], h["service"]) == (topic, "decoder")
            tp = TopicPartition(topic, int(h["source_partition"]))
            src.assign([tp])
            src.seek(tp, int(h["source_offset"]))
            original = (await src.getmany(tp, timeout_ms=5000, max_records=1))[tp][0]
            assert (original.key, original.value) == (letter.key, letter.value)

    # Offsets were committed up to the end once everything was acknowledged.
    assert await committed(kafka_bootstrap, topic, "g-dec", 3) == len(items)


def _decoder_process(bootstrap: str, topic: str, out: str, dlq: str, log: Path) -> Any:
    env = dict(os.environ)
    env.update(
        PACKWATCH_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        PACKWATCH_DECODER_TOPIC=topic,
        PACKWATCH_DECODER_OUT_TOPIC=out,
        PACKWATCH_DECODER_DLQ_TOPIC=dlq,
        PACKWATCH_DECODER_GROUP_ID="g-restart",
        PACKWATCH_DECODER_METRICS_PORT="-1",
        # Small batches: many commits, so the kill lands between some of them.
        PACKWATCH_DECODER_BATCH_MAX_BUNDLES="50",
        PACKWATCH_DECODER_SESSION_TIMEOUT_MS="6000",
        PACKWATCH_LOG_JSON="true",
    )
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "services.decoder"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        )  # fmt: skip


async def test_a_killed_decoder_restarts_without_gaps(
    kafka_bootstrap: str, new_topic: NewTopicFactory, tmp_path: Path
) -> None:
    topic, out, dlq = await new_topic("can", 4), await new_topic("pack", 4), await new_topic("dlq")
    buses = [Bus(f"MH12-EB-{i:04d}", seed=10 + i) for i in range(10)]
    seconds = 600
    items = [(b.vid.encode(), b.payload(seq)) for seq in range(seconds) for b in buses]
    await produce(kafka_bootstrap, topic, items)
    log = tmp_path / "decoder.log"

    first = _decoder_process(kafka_bootstrap, topic, out, dlq, log)
    try:
        deadline = time.monotonic() + 60
        while await end_offsets(kafka_bootstrap, out, 4) == 0:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            assert first.poll() is None, log.read_text()[-2000:]
            await asyncio.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    produced_before = await end_offsets(kafka_bootstrap, out, 4)
    committed_before = await committed(kafka_bootstrap, topic, "g-restart", 4)
    # The kill landed mid-stream, so the second run has work left.
    assert committed_before < len(items)

    second = _decoder_process(kafka_bootstrap, topic, out, dlq, log)
    try:
        deadline = time.monotonic() + 120
        while await committed(kafka_bootstrap, topic, "g-restart", 4) < len(items):
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            assert second.poll() is None, log.read_text()[-2000:]
            await asyncio.sleep(0.25)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-2000:]

    samples = await read_all(kafka_bootstrap, out, len(items))
    got = by_vehicle(samples)
    duplicates = len(samples) - len(items)
    for bus in buses:
        seqs = [s.seq for s in got[bus.vid]]
        # No gap: every bus-second is there at least once.
        assert sorted(set(seqs)) == list(range(seconds))
        # Order per vehicle: increasing, except where the restart replayed a stretch.
        restarts = sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        assert restarts <= 1
    print(f"first run produced {produced_before}, committed {committed_before}; "
          f"{duplicates} duplicates after the restart")  # fmt: skip
    assert await end_offsets(kafka_bootstrap, dlq, 3) == 0
