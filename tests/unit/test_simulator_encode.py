"""The simulator's vectorised CAN encoder against cantools' encode_signals, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from schemas.can import load_database, message_for_frame_id
from schemas.can.bundle import decode_bundle, encode_signals
from services.simulator import Fleet, FleetConfig, Realism, encode_payloads, pack_samples
from services.simulator.encode import HISTORY_EVERY, scalar_state
from services.simulator.readings import Readings

_HIST = (
    "HVESS_StateOfHealth",
    "HVESS_ContactorOpenUnderLoadCount",
    "HVESS_LifetimeEnergyIn",
    "HVESS_LifetimeEnergyOut",
)


def _name(can_id: int) -> str:
    msg = message_for_frame_id(can_id)
    assert msg is not None
    return str(msg.name)


def _reference(r: Readings, b: int) -> list[tuple[int, int, bytes]]:
    st = scalar_state(r)
    state = {k: (None if np.isnan(v[b]) else float(v[b])) for k, v in st.items()}
    if r.seq[b] % HISTORY_EVERY != 0:
        for k in _HIST:
            state.pop(k)
    return encode_signals(
        state,
        cell_voltages=r.cell_voltages[b].tolist(),
        temperatures=r.cell_temps[b].tolist(),
        faults=r.faults[b],
    )


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    # Dropout at full severity reads -40 degC and raises a DTC; insulation falls to
    # below the warning level, so fault frames and status values are exercised too.
    f = Fleet(
        FleetConfig(
            buses=3,
            start=datetime(2026, 5, 1, 3, tzinfo=UTC),
            seed=3,
            faults="sensor_fault:BUS-0001@0:mode=dropout:severity=1,"
            "insulation_fault:BUS-0002@0:severity=1",
        )
    )
    for _ in range(20):
        f.step(1.0)
    return f


def test_payloads_equal_cantools_encoding(fleet: Fleet) -> None:
    checked = 0
    for _ in range(11):  # covers a history (HVESSHIST) second for every bus
        fleet.step(1.0)
        for r in fleet.readings():
            for b, payload in enumerate(encode_payloads(r)):
                bundle = decode_bundle(payload)
                assert bundle.vehicle_id == r.vehicle_ids[b]
                assert bundle.seq == int(r.seq[b])
                assert bundle.frames == _reference(r, b)
                checked += 1
    assert checked == 33


def test_fault_codes_are_encoded(fleet: Fleet) -> None:
    fleet.step(1.0)
    r = next(x for x in fleet.readings() if "BUS-0001" in x.vehicle_ids)
    b = r.vehicle_ids.index("BUS-0001")
    assert (520202, 5) in r.faults[b]
    frames = decode_bundle(encode_payloads(r)[b]).frames
    fault_msgs = [f for f in frames if _name(f[0]) == "PW_FAULTS"]
    decoded = load_database().get_message_by_name("PW_FAULTS").decode(fault_msgs[0][2])
    assert decoded["Fault_Spn00"] == 520202 and decoded["Fault_Fmi00"] == 5


def test_pack_samples_match_decoded_bundle_values() -> None:
    f = Fleet(
        FleetConfig(
            buses=2, start=datetime(2026, 5, 1, 3, tzinfo=UTC), seed=5, realism=Realism.off()
        )
    )
    for _ in range(30):
        f.step(1.0)
    db = load_database()
    for r in f.readings():
        samples = pack_samples(r)
        for b, payload in enumerate(encode_payloads(r)):
            sig: dict[str, float] = {}
            cells: dict[int, float] = {}
            for can_id, _, data in decode_bundle(payload).frames:
                values = db.get_message_by_name(_name(can_id)).decode(data, decode_choices=False)
                for k, v in values.items():
                    if k.startswith("CellVoltage") and k[11:].isdigit():
                        cells[int(k[11:])] = float(v)
                    else:
                        sig[k] = float(v)
            s = samples[b]
            assert s.pack_voltage_v == pytest.approx(sig["HVESS_Voltage"], abs=1e-9)
            assert s.pack_current_a == pytest.approx(sig["HVESS_Current"], abs=1e-9)
            assert s.soc_pct == pytest.approx(sig["HVESS_FastSoC"], abs=1e-9)
            # The last frame is padded with not-available cells past the pack's count.
            n = len(s.cell_voltages)
            assert s.cell_voltages == pytest.approx([cells[i] for i in range(n)])
            assert s.cell_temp_max_c == pytest.approx(sig["HVESS_HighestCellTemp"], abs=1.0)


def test_fast_path_charging_state_matches_what_the_can_path_encodes() -> None:
    from datetime import UTC, datetime

    from schemas.common import ChargingState
    from services.decoder.convert import to_samples
    from services.decoder.vectorized import VectorDecoder
    from services.simulator import Fleet, FleetConfig, encode_payloads
    from services.simulator.samples import pack_samples

    fleet = Fleet(FleetConfig(buses=6, start=datetime(2026, 6, 1, 1, 0, tzinfo=UTC), seed=2))
    seen = set()
    for _ in range(96):  # up to 8 h in 5-minute steps, until buses charge
        fleet.step(300.0)
        readings = fleet.readings()
        fast = [s for r in readings for s in pack_samples(r)]
        payloads = [p for r in readings for p in encode_payloads(r)]
        decoded = to_samples(VectorDecoder().decode_payloads(payloads))
        by_vehicle = {s.vehicle_id: s for _, s in decoded.samples}
        for s in fast:
            assert s.charging_state == by_vehicle[s.vehicle_id].charging_state
            seen.add(s.charging_state)
        if ChargingState.CHARGING in seen:
            break
    assert ChargingState.CHARGING in seen
    assert seen <= {ChargingState.CHARGING, ChargingState.IDLE}
