"""DecodedBatch → PackSample: values within DBC resolution, VSS sign, trimmed arrays, rejects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from schemas.can.bundle import CanBundle, encode_bundle, encode_signals
from schemas.can.samples import plausible_input
from schemas.common import ChargingState, ContactorState, HvilState
from schemas.limits import PackLimits
from schemas.pack_sample import PackSample, with_cell_stats
from schemas.validation import validate_pack_sample
from services.decoder.convert import Converted, contactor_codes, to_samples
from services.decoder.vectorized import VectorDecoder

DEC = VectorDecoder()
T0 = datetime(2026, 11, 3, 8, 30, tzinfo=UTC)
# Half a resolution step of each field (the encoder rounds to the nearest step).
RES = {
    "pack_voltage_v": 0.025,
    "pack_current_a": 0.025,
    "soc_pct": 0.00125,
    "soh_pct": 0.2,
    "cell": 0.0005,
    "temp": 0.5,
    "coolant": 0.5,
    "ambient": 0.015625,
    "insulation": 0.5,
    "speed": 0.002,
    "odometer": 0.0025,
    "position": 5e-8,
}


def _payload(
    vid: str = "KA01-EB-0042",
    *,
    cells: int = 176,
    sensors: int = 44,
    seed: int = 1,
    seq: int = 7,
    drop: set[str] | None = None,
    **state: float | None,
) -> tuple[bytes, dict[str, Any]]:
    inp = plausible_input(np.random.default_rng(seed), cells, sensors)
    merged: dict[str, float | None] = {**inp.state, **state}
    for name in drop or ():
        merged.pop(name, None)
    frames = encode_signals(
        merged,
        cell_voltages=inp.cell_voltages,
        temperatures=inp.temperatures,
        faults=inp.faults,
        source_address=0x27,
    )
    truth = {
        "state": merged,
        "cells": inp.cell_voltages,
        "temps": inp.temperatures,
        "faults": inp.faults,
    }
    return encode_bundle(CanBundle.at(vid, T0, seq, frames)), truth


def _convert(payloads: list[bytes], received: list[int | None] | None = None) -> Converted:
    return to_samples(DEC.decode_payloads(payloads), received)


def _one(payload: bytes) -> PackSample:
    out = _convert([payload])
    assert out.rejected == []
    return out.samples[0][1]


def dtc(spn: int, fmi: int) -> int:
    return (spn & 0xFFFF) | (((spn >> 16) & 0x7) << 21) | ((fmi & 0x1F) << 16)


@pytest.mark.parametrize(("cells", "sensors"), [(176, 44), (204, 48), (192, 48), (3, 7)])
def test_values_match_the_encoded_ones_within_resolution(cells: int, sensors: int) -> None:
    payload, truth = _payload(cells=cells, sensors=sensors)
    received_ms = int(T0.timestamp() * 1000) + 1234
    out = _convert([payload], [received_ms])
    s = out.samples[0][1]
    st = truth["state"]
    assert (s.vehicle_id, s.seq, s.ts) == ("KA01-EB-0042", 7, T0)
    assert s.received_at == T0 + timedelta(milliseconds=1234)
    assert s.pack_voltage_v == pytest.approx(st["HVESS_Voltage"], abs=RES["pack_voltage_v"])
    assert s.pack_current_a == pytest.approx(st["HVESS_Current"], abs=RES["pack_current_a"])
    assert s.soc_pct == pytest.approx(st["HVESS_FastSoC"], abs=RES["soc_pct"])
    assert s.soh_pct == pytest.approx(st["HVESS_StateOfHealth"], abs=RES["soh_pct"])
    assert len(s.cell_voltages) == cells and len(s.cell_temps) == sensors
    np.testing.assert_allclose(s.cell_voltages, truth["cells"], atol=RES["cell"])
    np.testing.assert_allclose(s.cell_temps, truth["temps"], atol=RES["temp"])
    assert s.coolant_inlet_c == pytest.approx(st["HVESS_CoolantInletTemp"], abs=RES["coolant"])
    assert s.coolant_outlet_c == pytest.approx(st["HVESS_CoolantOutletTemp"], abs=RES["coolant"])
    assert s.ambient_c == pytest.approx(st["AmbientAirTemp"], abs=RES["ambient"])
    assert s.insulation_kohm == pytest.approx(
        st["Insulation_ResistanceSystem"], abs=RES["insulation"]
    )
    assert s.speed_kmh == pytest.approx(st["WheelBasedVehicleSpeed"], abs=RES["speed"])
    assert s.odometer_km == pytest.approx(st["HiResTotalVehicleDistance"], abs=RES["odometer"])
    assert s.latitude_deg == pytest.approx(st["Latitude"], abs=RES["position"])
    assert s.longitude_deg == pytest.approx(st["Longitude"], abs=RES["position"])
    assert s.contactor_state is ContactorState.CLOSED
    assert s.hvil_state is HvilState.CLOSED
    assert s.fault_codes == [dtc(spn, fmi) for spn, fmi in truth["faults"]]
    # A valid sample for a pack of that shape.
    validate_pack_sample(s, design=PackLimits(cells, sensors), now=T0 + timedelta(seconds=2))


def test_summaries_are_those_of_the_arrays() -> None:
    payloads = [_payload(f"B-{i}", seed=i)[0] for i in range(20)]
    for _, s in _convert(payloads).samples:
        ref = with_cell_stats(s)
        for f in ("cell_voltage", "cell_temp"):
            for part in ("min_idx", "max_idx"):
                assert getattr(s, f"{f}_{part}") == getattr(ref, f"{f}_{part}")
            unit = "_v" if f == "cell_voltage" else "_c"
            assert getattr(s, f"{f}_min{unit}") == getattr(ref, f"{f}_min{unit}")
            assert getattr(s, f"{f}_max{unit}") == getattr(ref, f"{f}_max{unit}")
            # Summation order differs from Python's sum(): equal to the last few ulps.
            assert getattr(s, f"{f}_mean{unit}") == pytest.approx(
                getattr(ref, f"{f}_mean{unit}"), rel=1e-12
            )


def test_ties_take_the_first_index_and_the_mean_stays_inside() -> None:
    inp = plausible_input(np.random.default_rng(3), 12, 7)
    frames = encode_signals(inp.state, cell_voltages=[3.3] * 12, temperatures=[25.0] * 7)
    s = _one(encode_bundle(CanBundle.at("TIE", T0, 1, frames)))
    assert (s.cell_voltage_min_idx, s.cell_voltage_max_idx) == (0, 0)
    assert s.cell_voltage_min_v == s.cell_voltage_mean_v == s.cell_voltage_max_v
    assert (s.cell_temp_min_idx, s.cell_temp_max_idx, s.cell_temp_mean_c) == (0, 0, 25.0)


@pytest.mark.parametrize("current", [-412.35, 0.0, 187.5])
def test_current_keeps_the_vss_sign(current: float) -> None:
    # The DBC already says positive = into the pack (charging), as VSS and PackSample do.
    s = _one(_payload(HVESS_Current=current)[0])
    assert s.pack_current_a == pytest.approx(current, abs=RES["pack_current_a"])


def test_not_available_becomes_none() -> None:
    payload, _ = _payload(
        HVESS_StateOfHealth=None, AmbientAirTemp=None, Insulation_ResistanceSystem=None,
        Latitude=None, HVESS_HvilStatus=3, ChargingState=15, HVESS_PosContactorState=3,
    )  # fmt: skip
    s = _one(payload)
    assert s.soh_pct is None and s.ambient_c is None
    # Without the system value, the lower side stands in (plausible_input: 4200 / 3900).
    assert s.insulation_kohm == 3900.0
    # Only one coordinate is not a position.
    assert s.latitude_deg is None and s.longitude_deg is None
    assert s.hvil_state is None and s.charging_state is None and s.contactor_state is None


def test_groups_not_sent_leave_optional_fields_empty() -> None:
    drop = {"HVESS_StateOfHealth", "HVESS_ContactorOpenUnderLoadCount", "HVESS_LifetimeEnergyIn",
            "HVESS_LifetimeEnergyOut"}  # fmt: skip
    s = _one(_payload(drop=drop)[0])
    assert s.soh_pct is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, ChargingState.IDLE),
        (1, ChargingState.CHARGING),
        (2, ChargingState.STANDBY),
        (12, ChargingState.TERMINATING),
        (5, None),  # not a VSS value
        (15, None),  # not available
    ],
)
def test_charging_state_takes_the_dbc_value(raw: int, expected: ChargingState | None) -> None:
    assert _one(_payload(ChargingState=raw)[0]).charging_state is expected


def test_contactor_state_from_the_relays() -> None:
    nan = np.nan
    pos = np.array([1, 0, 0, 1, 2, 0, nan, 3, 1])
    neg = np.array([1, 0, 1, 0, 1, 1, 1, 1, 1])
    pre = np.array([0, 0, 1, 0, 0, 2, 0, 0, 1])
    got = contactor_codes(pos, neg, pre)
    want = [1, 0, 4, 0, 2, 2, nan, nan, 1]
    np.testing.assert_array_equal(got, np.array(want, dtype=float))


def test_faults_become_dtcs_and_none_is_empty() -> None:
    inp = plausible_input(np.random.default_rng(2), 9, 7)
    faults = [(520201, 3), (1, 31), (524287, 0)]
    frames = encode_signals(inp.state, cell_voltages=inp.cell_voltages,
                            temperatures=inp.temperatures, faults=faults)  # fmt: skip
    quiet = encode_signals(inp.state, cell_voltages=inp.cell_voltages,
                           temperatures=inp.temperatures, faults=[])  # fmt: skip
    out = _convert([encode_bundle(CanBundle.at("F", T0, 1, f)) for f in (frames, quiet)])
    assert out.samples[0][1].fault_codes == [dtc(s, f) for s, f in faults]
    assert out.samples[1][1].fault_codes == []


def test_bad_bundles_are_rejected_with_reasons_and_the_rest_converted() -> None:
    good, _ = _payload("GOOD")
    inp = plausible_input(np.random.default_rng(5), 176, 44)
    frames = encode_signals(inp.state, cell_voltages=inp.cell_voltages,
                            temperatures=inp.temperatures)  # fmt: skip
    wrong_dlc = [(i, 7, d[:7]) if n == 0 else (i, dlc, d) for n, (i, dlc, d) in enumerate(frames)]
    lost_cell = [f for f in frames if f[0] >> 8 & 0xFFFF != 0xFF10 or f[2][0] != 10]
    no_voltage = encode_signals(
        {k: v for k, v in inp.state.items() if k != "HVESS_Voltage"},
        cell_voltages=inp.cell_voltages,
        temperatures=inp.temperatures,
    )
    no_cells = encode_signals(inp.state, temperatures=inp.temperatures)

    def bundle(frames: list[Any], ts: datetime = T0) -> bytes:
        return encode_bundle(CanBundle.at("BAD", ts, 1, frames))

    payloads = [
        good,
        b"garbage that is no bundle",
        good[:-5],
        bundle(wrong_dlc),
        bundle(lost_cell),
        bundle(no_voltage),
        bundle(no_cells),
        encode_bundle(CanBundle("BAD", 2**62, 1, frames)),
        good,
    ]  # fmt: skip
    out = _convert(payloads)
    assert [i for i, _ in out.samples] == [0, 8]
    reasons = {r.index: (r.reason, r.detail) for r in out.rejected}
    assert reasons[1][0] == "bad_magic"
    assert reasons[2][0] == "truncated"
    assert reasons[3] == ("wrong_dlc", "dlc does not match group HVESSD1")
    assert reasons[4] == ("incomplete_array", "cell_voltages: 3 of 176 missing (first at 30)")
    assert reasons[5] == ("missing_signal", "not available: HVESS_Voltage")
    assert reasons[6] == ("incomplete_array", "cell_voltages: none present")
    assert reasons[7][0] == "bad_timestamp"


def test_a_batch_of_vehicles_keeps_row_order_and_identity() -> None:
    payloads, truths = zip(*(_payload(f"V-{i:02d}", seed=i, seq=i) for i in range(50)), strict=True)
    out = _convert(list(payloads), list(range(50)))
    assert [i for i, _ in out.samples] == list(range(50))
    for (i, s), truth in zip(out.samples, truths, strict=True):
        assert (s.vehicle_id, s.seq) == (f"V-{i:02d}", i)
        np.testing.assert_allclose(s.cell_voltages, truth["cells"], atol=RES["cell"])
