"""The VSS mapping table covers the DBC and the VSS paths the platform relies on."""

from __future__ import annotations

import pytest

from schemas.can import load_database
from schemas.can.vss import (
    DBC_TO_VSS_UNIT,
    load_vss_map,
    mapping_for,
    signals_for_vss,
    vss_path_for,
)

TB = "Vehicle.Powertrain.TractionBattery"
REQUIRED = {
    f"{TB}.StateOfCharge.Current": ["HVESS_FastSoC"],
    f"{TB}.CurrentVoltage": ["HVESS_Voltage"],
    f"{TB}.CurrentCurrent": ["HVESS_Current"],
    f"{TB}.CellVoltage.CellVoltages": ["CellVoltage000", "CellVoltage239"],
    f"{TB}.Temperature.CellTemperature": ["TempSensor00", "TempSensor63"],
    f"{TB}.StateOfHealth": ["HVESS_StateOfHealth"],
    "Vehicle.Speed": ["WheelBasedVehicleSpeed"],
    "Vehicle.TraveledDistance": ["HiResTotalVehicleDistance"],
    "Vehicle.CurrentLocation.Latitude": ["Latitude"],
    "Vehicle.CurrentLocation.Longitude": ["Longitude"],
}


def _dbc_signals() -> list[tuple[str, str]]:
    return [
        (s.name, s.unit or "")
        for m in load_database().messages
        for s in m.signals
        if not s.is_multiplexer
    ]


def test_every_dbc_signal_is_matched_by_exactly_one_row() -> None:
    rows = load_vss_map()
    for name, _ in _dbc_signals():
        hits = [r.signal for r in rows if r.matches(name)]
        assert len(hits) == 1, f"{name}: rows {hits}"


def test_every_row_matches_some_dbc_signal() -> None:
    names = [n for n, _ in _dbc_signals()]
    for row in load_vss_map():
        assert any(row.matches(n) for n in names), f"row {row.signal} matches nothing"


@pytest.mark.parametrize(("path", "signals"), sorted(REQUIRED.items()))
def test_required_vss_paths_are_mapped(path: str, signals: list[str]) -> None:
    for s in signals:
        assert vss_path_for(s) == path
    names = [n for n, _ in _dbc_signals()]
    assert set(signals) <= set(signals_for_vss(path, names))


def test_mapped_units_agree_with_vss() -> None:
    for name, unit in _dbc_signals():
        row = mapping_for(name)
        if row.vss_path is not None:
            assert DBC_TO_VSS_UNIT[unit] == row.vss_unit, (name, unit, row.vss_unit)


def test_array_rows_cover_the_whole_array() -> None:
    names = [n for n, _ in _dbc_signals()]
    cells = signals_for_vss(f"{TB}.CellVoltage.CellVoltages", names)
    assert len(cells) == 240
    assert not signals_for_vss(f"{TB}.CellVoltage.CellVoltages", ["CellVoltage_FrameIndex"])


def test_unknown_signal_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        vss_path_for("NoSuchSignal")
