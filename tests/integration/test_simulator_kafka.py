"""Simulated bundles and PackSamples through the real broker: keyed, decodable, true."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.can import load_database, message_for_frame_id
from schemas.can.bundle import decode_bundle
from schemas.messages import decode_pack_sample
from services.core.kafka import open_consumer, open_producer
from services.simulator import Fleet, FleetConfig, Realism, encode_payloads
from services.simulator.output import KafkaSink
from services.simulator.readings import Readings
from services.simulator.run import run
from tests.conftest import NewTopicFactory

pytestmark = pytest.mark.integration

TICKS = 5


async def _consume(bootstrap: str, topic: str, n: int) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    async with open_consumer(bootstrap, [topic], group_id=f"g-{uuid.uuid4().hex[:8]}") as c:
        async with asyncio.timeout(60):
            while len(out) < n:
                batch = await c.getmany(timeout_ms=1000)
                for records in batch.values():
                    out.extend((r.key, r.value) for r in records)
    return out


def _decode_signals(payload: bytes) -> tuple[dict[str, float], dict[int, float], dict[int, float]]:
    db = load_database()
    sig: dict[str, float] = {}
    cells: dict[int, float] = {}
    temps: dict[int, float] = {}
    for can_id, _, data in decode_bundle(payload).frames:
        msg = message_for_frame_id(can_id)
        assert msg is not None
        for k, v in db.get_message_by_name(msg.name).decode(data, decode_choices=False).items():
            if k.startswith("CellVoltage") and k[11:].isdigit():
                cells[int(k[11:])] = float(v)
            elif k.startswith("TempSensor") and k[10:].isdigit():
                temps[int(k[10:])] = float(v)
            else:
                sig[k] = float(v)
    return sig, cells, temps


async def test_bundles_decode_and_match_the_simulated_state(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("sim-can")
    fleet = Fleet(
        FleetConfig(
            buses=4, start=datetime(2026, 5, 4, 3, tzinfo=UTC), seed=9, realism=Realism.off()
        )
    )
    sent: dict[tuple[str, int], tuple[Readings, int]] = {}
    async with open_producer(kafka_bootstrap) as producer:
        sink = KafkaSink(producer, topic)
        for _ in range(TICKS):
            fleet.step(1.0)
            for r in fleet.readings():
                payloads = encode_payloads(r)
                for b, vid in enumerate(r.vehicle_ids):
                    sent[vid, int(r.seq[b])] = (r, b)
                await sink.write(list(zip(r.vehicle_ids, payloads, strict=True)))
    got = await _consume(kafka_bootstrap, topic, 4 * TICKS)
    assert len(got) == 4 * TICKS
    for key, value in got:
        bundle = decode_bundle(value)
        assert key == bundle.vehicle_id.encode()
        r, b = sent[bundle.vehicle_id, bundle.seq]
        assert bundle.ts_us == int(r.ts_us[b])
        sig, cells, temps = _decode_signals(value)
        # Within half a DBC step of the simulated value.
        assert sig["HVESS_Voltage"] == pytest.approx(r.pack_voltage_v[b], abs=0.025 + 1e-9)
        assert sig["HVESS_Current"] == pytest.approx(r.pack_current_a[b], abs=0.025 + 1e-9)
        assert sig["HVESS_FastSoC"] == pytest.approx(r.soc_pct[b], abs=0.00125 + 1e-9)
        assert sig["HVESS_CoolantInletTemp"] == pytest.approx(r.coolant_inlet_c[b], abs=0.5)
        assert sig["Insulation_ResistanceSystem"] == pytest.approx(r.insulation_kohm[b], abs=0.5)
        n_cells = r.cell_voltages.shape[1]
        got_cells = np.array([cells[i] for i in range(n_cells)])
        assert np.abs(got_cells - r.cell_voltages[b]).max() <= 0.0005 + 1e-9
        got_temps = np.array([temps[i] for i in range(r.cell_temps.shape[1])])
        assert np.abs(got_temps - r.cell_temps[b]).max() <= 0.5 + 1e-9


async def test_pack_mode_sends_keyed_pack_samples(
    kafka_bootstrap: str, new_topic: NewTopicFactory
) -> None:
    topic = await new_topic("sim-pack")
    fleet = Fleet(
        FleetConfig(
            buses=3, start=datetime(2026, 5, 4, 3, tzinfo=UTC), seed=2, realism=Realism.off()
        )
    )
    async with open_producer(kafka_bootstrap) as producer:
        stats = await run(fleet, KafkaSink(producer, topic), duration_s=TICKS, speed=0, mode="pack")
    assert stats.messages == 3 * TICKS
    got = await _consume(kafka_bootstrap, topic, 3 * TICKS)
    seqs: dict[bytes, list[int]] = {}
    for key, value in got:
        s = decode_pack_sample(value)
        assert key == s.vehicle_id.encode()
        assert len(s.cell_voltages) in (176, 204)
        seqs.setdefault(key, []).append(s.seq)
    assert len(seqs) == 3
    assert all(v == sorted(v) and len(v) == TICKS for v in seqs.values())
