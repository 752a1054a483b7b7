"""Plausible and random inputs for :func:`schemas.can.bundle.encode_signals`.

Tests and benchmarks need bus-seconds that exercise the DBC; the simulator
produces physically consistent ones. These helpers are deliberately simple:
``plausible_input`` gives values a running e-bus could report,
``random_input`` gives values drawn uniformly over every signal's DBC range.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from schemas.can.signals import message_table


class SignalInput(NamedTuple):
    """The arguments of one ``encode_signals`` call."""

    state: dict[str, float | None]
    cell_voltages: list[float]
    temperatures: list[float]
    faults: list[tuple[int, int]]


def scalar_signals() -> list[str]:
    """Names of every signal outside the multiplexed groups (what ``state`` may hold)."""
    return [
        s.name
        for m in message_table()
        if not any(x.is_multiplexer for x in m.signals)
        for s in m.signals
    ]


def random_input(
    rng: np.random.Generator, n_cells: int, n_sensors: int, n_faults: int
) -> SignalInput:
    """Every scalar signal uniform over its DBC range; arrays over their element ranges."""
    state: dict[str, float | None] = {}
    for m in message_table():
        if any(s.is_multiplexer for s in m.signals):
            continue
        for s in m.signals:
            state[s.name] = float(rng.uniform(s.minimum, s.maximum))
    faults = [(int(rng.integers(1, 1 << 19)), int(rng.integers(0, 32))) for _ in range(n_faults)]
    return SignalInput(
        state,
        rng.uniform(0.0, 64.255, n_cells).tolist(),
        rng.uniform(-40.0, 210.0, n_sensors).tolist(),
        faults,
    )


def plausible_input(
    rng: np.random.Generator, n_cells: int = 192, n_sensors: int = 48
) -> SignalInput:
    """A bus driving on a warm day: ~3.3 V cells, 25-40 degC, a few hundred amps out."""
    cells = rng.normal(3.30, 0.01, n_cells)
    temps = rng.normal(32.0, 2.0, n_sensors)
    current = float(rng.uniform(-300.0, 50.0))
    state: dict[str, float | None] = {
        "HVESS_Voltage": float(cells.sum()),
        "HVESS_Current": current,
        "HVESS_AvailDischargePower": 250.0,
        "HVESS_AvailChargePower": 150.0,
        "HVESS_FastSoC": float(rng.uniform(20, 90)),
        "HVESS_HighestCellVoltage": float(cells.max()),
        "HVESS_LowestCellVoltage": float(cells.min()),
        "HVESS_HighestCellVoltageIndex": int(cells.argmax()),
        "HVESS_LowestCellVoltageIndex": int(cells.argmin()),
        "HVESS_HighestCellTemp": float(temps.max()),
        "HVESS_LowestCellTemp": float(temps.min()),
        "HVESS_AverageCellTemp": float(temps.mean()),
        "HVESS_HighestCellTempIndex": int(temps.argmax()),
        "HVESS_LowestCellTempIndex": int(temps.argmin()),
        "HVESS_BusVoltage": float(cells.sum()) - 1.0,
        "HVESS_CoolantInletTemp": 24.0,
        "HVESS_CoolantOutletTemp": 28.0,
        "HVESS_ElectronicsTemp": 40.0,
        "HVESS_PosContactorState": 1,
        "HVESS_NegContactorState": 1,
        "HVESS_PrechargeState": 0,
        "HVESS_HvilStatus": 1,
        "HVESS_IsolationTestStatus": 2,
        "HVESS_CellBalancingActive": 0,
        "HVESS_BalancingCellCount": 0,
        "HVESS_ChargerStatus": 0,
        "Insulation_ResistancePos": 4200,
        "Insulation_ResistanceNeg": 3900,
        "Insulation_ResistanceSystem": 3900,
        "Insulation_MeasurementStatus": 2,
        "HVESS_StateOfHealth": 96.4,
        "HVESS_ContactorOpenUnderLoadCount": 2,
        "HVESS_LifetimeEnergyIn": 81234,
        "HVESS_LifetimeEnergyOut": 79012,
        "WheelBasedVehicleSpeed": float(rng.uniform(0, 50)),
        "HiResTotalVehicleDistance": 45678.123,
        "HiResTripDistance": 87.5,
        "Latitude": 12.9716,
        "Longitude": 77.5946,
        "AmbientAirTemp": 31.5,
        "ChargingState": 0,
        "ChargePlugConnected": 0,
        "ChargerPower": 0.0,
        "ChargerVoltage": None,
        "ChargerCurrent": None,
    }
    return SignalInput(state, cells.tolist(), temps.tolist(), [])
