"""The CAN database: generated file in step with the table, J1939 masking, encode/decode."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.can import (
    DBC_PATH,
    frame_id,
    load_database,
    message_for_frame_id,
    message_for_pgn,
    pgn_of,
    source_address_of,
)
from schemas.can.build_dbc import render_dbc
from schemas.can.bundle import encode_signals
from schemas.can.samples import random_input
from schemas.can.signals import MAX_CELLS, MAX_TEMP_SENSORS, SignalDef, message_table

TABLE = {m.name: m for m in message_table()}
SIGNALS: dict[str, SignalDef] = {s.name: s for m in message_table() for s in m.signals}

EXPECTED_PGNS = {
    "HVESSD1": 61584,
    "HVESSD2": 61585,
    "HVESSD3": 61586,
    "HVESSD6": 61589,
    "HVESSS1": 61590,
    "HVESSHIST": 64606,
}


def _msg(can_id: int) -> Any:
    m = message_for_frame_id(can_id)
    assert m is not None, f"{can_id:#x} is not in the DBC"
    return m


def test_checked_in_dbc_matches_the_signal_table() -> None:
    assert DBC_PATH.read_text(encoding="ascii") == render_dbc(), (
        "schemas/can/packwatch_ebus.dbc is stale: run python -m schemas.can.build_dbc"
    )


def test_database_holds_every_table_message_as_j1939_extended_frames() -> None:
    db = load_database()
    assert {m.name for m in db.messages} == set(TABLE)
    for m in db.messages:
        assert m.is_extended_frame
        assert m.protocol == "j1939"
        assert pgn_of(m.frame_id) == TABLE[m.name].pgn
    for name, pgn in EXPECTED_PGNS.items():
        assert _msg(frame_id(pgn, 0)).name == name
        assert message_for_pgn(pgn) is _msg(frame_id(pgn, 0))


def test_array_groups_cover_the_largest_pack() -> None:
    names = {s.name for m in load_database().messages for s in m.signals}
    assert {f"CellVoltage{i:03d}" for i in range(MAX_CELLS)} <= names
    assert {f"TempSensor{i:02d}" for i in range(MAX_TEMP_SENSORS)} <= names
    cell = SIGNALS["CellVoltage000"]
    assert (cell.length, cell.scale) == (16, 0.001)
    temp = SIGNALS["TempSensor00"]
    assert (temp.length, temp.scale, temp.offset) == (8, 1, -40)


@given(
    name=st.sampled_from(sorted(TABLE)),
    sa=st.integers(0, 255),
    prio=st.integers(0, 7),
)
def test_lookup_masks_priority_and_source_address(name: str, sa: int, prio: int) -> None:
    can_id = frame_id(TABLE[name].pgn, sa, prio)
    assert pgn_of(can_id) == TABLE[name].pgn
    assert source_address_of(can_id) == sa
    assert _msg(can_id).name == name


def test_pdu1_destination_is_not_part_of_the_pgn() -> None:
    # PF 0xEF < 240: PS is a destination address and must be masked like the source.
    assert pgn_of(0x18EF2AF3) == pgn_of(0x18EF17F3) == 0xEF00
    assert message_for_frame_id(0x18EF2AF3) is None


def test_frame_id_refuses_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match="source address"):
        frame_id(61584, 256)
    with pytest.raises(ValueError, match="priority"):
        frame_id(61584, 0, 8)


def _assert_within_resolution(sig: SignalDef, sent: float, got: float) -> None:
    assert not math.isnan(got), f"{sig.name} came back as not available"
    assert abs(got - sent) <= sig.scale / 2 + 1e-9 * max(1.0, abs(sent)), (sig.name, sent, got)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cells=st.integers(0, MAX_CELLS),
    n_sensors=st.integers(0, MAX_TEMP_SENSORS),
    n_faults=st.integers(0, 16),
    sa=st.integers(0, 255),
)
def test_encode_then_cantools_decode_recovers_every_signal(
    seed: int, n_cells: int, n_sensors: int, n_faults: int, sa: int
) -> None:
    inp = random_input(np.random.default_rng(seed), n_cells, n_sensors, n_faults)
    frames = encode_signals(
        inp.state,
        cell_voltages=inp.cell_voltages,
        temperatures=inp.temperatures,
        faults=inp.faults,
        source_address=sa,
    )
    decoded: dict[str, float] = {}
    for can_id, dlc, data in frames:
        assert dlc == 8 and source_address_of(can_id) == sa
        decoded.update(_msg(can_id).decode(data, decode_choices=False))
    for name, value in inp.state.items():
        assert value is not None
        _assert_within_resolution(SIGNALS[name], value, decoded[name])
    for i, v in enumerate(inp.cell_voltages):
        _assert_within_resolution(SIGNALS[f"CellVoltage{i:03d}"], v, decoded[f"CellVoltage{i:03d}"])
    for i, v in enumerate(inp.temperatures):
        _assert_within_resolution(SIGNALS[f"TempSensor{i:02d}"], v, decoded[f"TempSensor{i:02d}"])
    assert decoded["Fault_ActiveCount"] == n_faults
    for i, (spn, fmi) in enumerate(inp.faults):
        assert (decoded[f"Fault_Spn{i:02d}"], decoded[f"Fault_Fmi{i:02d}"]) == (spn, fmi)


def test_missing_values_are_sent_as_not_available() -> None:
    frames = encode_signals(
        {"HVESS_Voltage": None, "HVESS_Current": float("nan")},
        cell_voltages=[3.3, 3.31, 3.32, 3.33],
    )
    (d1,) = [f for f in frames if pgn_of(f[0]) == 61584]
    raw = _msg(d1[0]).decode(d1[2], scaling=False)
    assert raw["HVESS_Voltage"] == raw["HVESS_Current"] == 0xFFFF
    cellv = [f for f in frames if pgn_of(f[0]) == 0xFF10]
    assert len(cellv) == 2  # four cells need two frames of three
    tail = _msg(cellv[1][0]).decode(cellv[1][2], scaling=False)
    assert tail["CellVoltage003"] == 3330 and tail["CellVoltage004"] == 0xFFFF


def test_out_of_range_values_saturate_and_unknown_names_are_refused() -> None:
    frames = encode_signals({"HVESS_FastSoC": 140.0})
    decoded = _msg(frames[0][0]).decode(frames[0][2])
    assert decoded["HVESS_FastSoC"] == 100.0
    with pytest.raises(KeyError, match="HVESS_Voltag"):
        encode_signals({"HVESS_Voltag": 1.0})


def test_readme_documents_every_group_and_scalar_signal() -> None:
    readme = (DBC_PATH.parent / "README.md").read_text(encoding="utf-8")
    for m in message_table():
        assert f"### {m.name} — PGN {m.pgn}" in readme, m.name
        for s in m.signals:
            if s.array is None:
                assert f"`{s.name}`" in readme, s.name
