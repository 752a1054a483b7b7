"""The signal table of the e-bus pack's CAN traffic: the one source the DBC is generated from.

Every parameter group is a :class:`MessageDef` holding :class:`SignalDef` rows.
``schemas/can/build_dbc.py`` renders these into ``packwatch_ebus.dbc`` and a
unit test fails when the rendered text and the checked-in file differ, so edit
this table, never the ``.dbc`` by hand.

Conventions (SAE J1939 style, all little-endian "Intel" bit numbering):

- identifiers are 29 bits: priority (3) | EDP, DP (2) | PF (8) | PS (8) | SA (8);
  all groups here are PDU2 (PF >= 240), so PGN = bits 8..25;
- physical = raw * scale + offset;
- unsigned fields of 8, 16 or 32 bits reserve their top raw values as J1939
  error / not-available indicators (raw >= 0xFB, 0xFB00, 0xFB000000); decoders
  report those as missing (NaN) and the encoder sends all ones for a missing value;
- 2- and 4-bit states follow J1939: the highest value means "not available";
- unused bits are sent as ones.

Pack current follows COVESA VSS: positive = into the pack (charging).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: The generated, checked-in DBC file.
DBC_PATH = Path(__file__).with_name("packwatch_ebus.dbc")

#: Largest pack the cell-voltage groups can carry (cells in series).
MAX_CELLS = 240
#: Largest number of temperature sensors the temperature groups can carry.
MAX_TEMP_SENSORS = 64
#: Largest number of active fault codes the fault group can carry.
MAX_FAULTS = 16

CELLS_PER_FRAME = 3
SENSORS_PER_FRAME = 7
FAULTS_PER_FRAME = 2

# Default J1939 source addresses of the sending nodes. Decoding masks the source
# address, so these only matter for the encoder's defaults and for readers of the DBC.
SOURCE_ADDRESSES: dict[str, int] = {"BMS": 0xF3, "VCU": 0x27, "TCU": 0x4A}


def j1939_na_raw(length: int, signed: bool) -> int | None:
    """Smallest raw value J1939 reserves for error/not-available in a field, or None.

    Only unsigned 8-, 16- and 32-bit fields carry these indicators; other
    widths use every raw value for data (or, for 2/4-bit states, name the top
    value "not_available" in their value table).
    """
    if signed:
        return None
    return {8: 0xFB, 16: 0xFB00, 32: 0xFB000000}.get(length)


@dataclass(frozen=True)
class SignalDef:
    """One signal: where its bits sit, how raw maps to physical, and what it means."""

    name: str
    start: int
    length: int
    scale: float
    offset: float
    minimum: float
    maximum: float
    unit: str
    comment: str
    signed: bool = False
    is_multiplexer: bool = False
    mux_id: int | None = None
    #: For multiplexed array members: the array (the name without its index digits,
    #: which is how decoders group them) and the index in it.
    array: str | None = None
    index: int | None = None
    choices: tuple[tuple[int, str], ...] = ()

    @property
    def na_raw(self) -> int | None:
        """Smallest raw value that J1939 reserves for error/not-available, or None."""
        return None if self.is_multiplexer else j1939_na_raw(self.length, self.signed)

    @property
    def raw_min(self) -> int:
        """Raw value of the signal's documented minimum."""
        return round((self.minimum - self.offset) / self.scale)

    @property
    def raw_max(self) -> int:
        """Raw value of the signal's documented maximum."""
        return round((self.maximum - self.offset) / self.scale)


@dataclass(frozen=True)
class MessageDef:
    """One parameter group (8-byte frame) and its signals."""

    name: str
    pgn: int
    sender: str
    comment: str
    signals: tuple[SignalDef, ...]
    priority: int = 6
    dlc: int = 8
    cycle_ms: int = 1000

    @property
    def frame_id(self) -> int:
        """The 29-bit identifier with the default priority and source address."""
        return (self.priority << 26) | (self.pgn << 8) | SOURCE_ADDRESSES[self.sender]


# Short alias keeps the table rows on one line each where they fit.
_s = SignalDef

_ONOFF = ((0, "off"), (1, "on"), (2, "error"), (3, "not_available"))
_CONTACTOR = ((0, "open"), (1, "closed"), (2, "error"), (3, "not_available"))

_T16 = (0.03125, -273.0, -273.0, 1734.96875)  # J1939 16-bit temperature
_V16 = (0.05, 0.0, 0.0, 3212.75)  # J1939 16-bit high voltage
_A16 = (0.05, -1600.0, -1600.0, 1612.75)  # J1939 16-bit current, offset -1600 A


def _pack_messages() -> list[MessageDef]:
    return [
        MessageDef(
            "HVESSD1",
            61584,
            "BMS",
            "HVESS data 1: pack voltage, current, power limits.",
            (
                _s("HVESS_Voltage", 0, 16, *_V16, "V", "Pack voltage at the pack terminals."),
                _s(
                    "HVESS_Current",
                    16,
                    16,
                    *_A16,
                    "A",
                    "Pack current; positive = into the pack (charging), as COVESA VSS.",
                ),
                _s(
                    "HVESS_AvailDischargePower",
                    32,
                    16,
                    *_V16,
                    "kW",
                    "Power the pack can deliver now (BMS limit).",
                ),
                _s(
                    "HVESS_AvailChargePower",
                    48,
                    16,
                    *_V16,
                    "kW",
                    "Power the pack can accept now (BMS limit).",
                ),
            ),
        ),
        MessageDef(
            "HVESSD2",
            61585,
            "BMS",
            "HVESS data 2: fast SoC and cell voltage extremes.",
            (
                _s(
                    "HVESS_FastSoC",
                    0,
                    16,
                    0.0025,
                    0.0,
                    0.0,
                    100.0,
                    "%",
                    "State of charge, fast update, relative to usable capacity.",
                ),
                _s(
                    "HVESS_HighestCellVoltage",
                    16,
                    16,
                    0.001,
                    0.0,
                    0.0,
                    64.255,
                    "V",
                    "Voltage of the highest cell.",
                ),
                _s(
                    "HVESS_LowestCellVoltage",
                    32,
                    16,
                    0.001,
                    0.0,
                    0.0,
                    64.255,
                    "V",
                    "Voltage of the lowest cell.",
                ),
                _s(
                    "HVESS_HighestCellVoltageIndex",
                    48,
                    8,
                    1,
                    0,
                    0,
                    250,
                    "",
                    "Zero-based index of the highest cell.",
                ),
                _s(
                    "HVESS_LowestCellVoltageIndex",
                    56,
                    8,
                    1,
                    0,
                    0,
                    250,
                    "",
                    "Zero-based index of the lowest cell.",
                ),
            ),
        ),
        MessageDef(
            "HVESSD3",
            61586,
            "BMS",
            "HVESS data 3: cell temperature extremes.",
            (
                _s("HVESS_HighestCellTemp", 0, 16, *_T16, "degC", "Highest cell temperature."),
                _s("HVESS_LowestCellTemp", 16, 16, *_T16, "degC", "Lowest cell temperature."),
                _s("HVESS_AverageCellTemp", 32, 16, *_T16, "degC", "Mean cell temperature."),
                _s(
                    "HVESS_HighestCellTempIndex",
                    48,
                    8,
                    1,
                    0,
                    0,
                    250,
                    "",
                    "Zero-based index of the hottest temperature sensor.",
                ),
                _s(
                    "HVESS_LowestCellTempIndex",
                    56,
                    8,
                    1,
                    0,
                    0,
                    250,
                    "",
                    "Zero-based index of the coldest temperature sensor.",
                ),
            ),
        ),
        MessageDef(
            "HVESSD6",
            61589,
            "BMS",
            "HVESS data 6: bus voltage, coolant, electronics.",
            (
                _s("HVESS_BusVoltage", 0, 16, *_V16, "V", "HV bus voltage on the vehicle side."),
                _s(
                    "HVESS_CoolantInletTemp",
                    16,
                    8,
                    1,
                    -40,
                    -40,
                    210,
                    "degC",
                    "Coolant temperature entering the pack.",
                ),
                _s(
                    "HVESS_CoolantOutletTemp",
                    24,
                    8,
                    1,
                    -40,
                    -40,
                    210,
                    "degC",
                    "Coolant temperature leaving the pack.",
                ),
                _s("HVESS_ElectronicsTemp", 32, 16, *_T16, "degC", "BMS electronics temperature."),
            ),
        ),
        MessageDef(
            "HVESSS1",
            61590,
            "BMS",
            "HVESS status 1: contactors, isolation, HVIL.",
            (
                _s(
                    "HVESS_PosContactorState",
                    0,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "Positive main contactor.",
                    choices=_CONTACTOR,
                ),
                _s(
                    "HVESS_NegContactorState",
                    2,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "Negative main contactor.",
                    choices=_CONTACTOR,
                ),
                _s(
                    "HVESS_PrechargeState",
                    4,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "Precharge relay.",
                    choices=_CONTACTOR,
                ),
                _s(
                    "HVESS_HvilStatus",
                    6,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "HV interlock loop: 1 = loop closed (safe), 0 = broken.",
                    choices=((0, "open"), (1, "closed"), (2, "error"), (3, "not_available")),
                ),
                _s(
                    "HVESS_IsolationTestStatus",
                    8,
                    4,
                    1,
                    0,
                    0,
                    15,
                    "",
                    "Isolation test state.",
                    choices=(
                        (0, "not_run"),
                        (1, "running"),
                        (2, "passed"),
                        (3, "failed"),
                        (14, "error"),
                        (15, "not_available"),
                    ),
                ),
                _s(
                    "HVESS_CellBalancingActive",
                    12,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "Cell balancing running.",
                    choices=_ONOFF,
                ),
                _s(
                    "HVESS_BalancingCellCount",
                    16,
                    8,
                    1,
                    0,
                    0,
                    250,
                    "",
                    "Number of cells being balanced now.",
                ),
                _s(
                    "HVESS_ChargerStatus",
                    24,
                    4,
                    1,
                    0,
                    0,
                    15,
                    "",
                    "Charger link as the BMS sees it.",
                    choices=(
                        (0, "disconnected"),
                        (1, "connected"),
                        (2, "charging"),
                        (3, "complete"),
                        (14, "error"),
                        (15, "not_available"),
                    ),
                ),
            ),
        ),
        MessageDef(
            "PW_INSUL",
            0xFF13,
            "BMS",
            "Insulation resistance, modelled on J1939 HVESSD10; proprietary-B PGN.",
            (
                _s(
                    "Insulation_ResistancePos",
                    0,
                    16,
                    1,
                    0,
                    0,
                    64255,
                    "kOhm",
                    "Insulation resistance HV+ to chassis.",
                ),
                _s(
                    "Insulation_ResistanceNeg",
                    16,
                    16,
                    1,
                    0,
                    0,
                    64255,
                    "kOhm",
                    "Insulation resistance HV- to chassis.",
                ),
                _s(
                    "Insulation_ResistanceSystem",
                    32,
                    16,
                    1,
                    0,
                    0,
                    64255,
                    "kOhm",
                    "System insulation resistance (the lower of both sides).",
                ),
                _s(
                    "Insulation_MeasurementStatus",
                    48,
                    4,
                    1,
                    0,
                    0,
                    15,
                    "",
                    "Insulation monitor state.",
                    choices=(
                        (0, "off"),
                        (1, "measuring"),
                        (2, "valid"),
                        (3, "warning"),
                        (4, "fault"),
                        (15, "not_available"),
                    ),
                ),
            ),
        ),
        MessageDef(
            "HVESSHIST",
            64606,
            "BMS",
            "HVESS history: health and lifetime counters.",
            (
                _s(
                    "HVESS_StateOfHealth",
                    0,
                    8,
                    0.4,
                    0,
                    0,
                    100,
                    "%",
                    "BMS-reported state of health (capacity now / rated).",
                ),
                _s(
                    "HVESS_ContactorOpenUnderLoadCount",
                    8,
                    12,
                    1,
                    0,
                    0,
                    4095,
                    "",
                    "Lifetime count of contactor openings under load.",
                ),
                _s(
                    "HVESS_LifetimeEnergyIn",
                    20,
                    22,
                    1,
                    0,
                    0,
                    4194303,
                    "kWh",
                    "Lifetime energy charged into the pack.",
                ),
                _s(
                    "HVESS_LifetimeEnergyOut",
                    42,
                    22,
                    1,
                    0,
                    0,
                    4194303,
                    "kWh",
                    "Lifetime energy discharged from the pack.",
                ),
            ),
            cycle_ms=10000,
        ),
    ]


def _array_message(
    name: str,
    pgn: int,
    comment: str,
    mux_name: str,
    per_frame: int,
    total: int,
    first_bit: int,
    *,
    kind: str,
) -> MessageDef:
    frames = -(-total // per_frame)
    sigs: list[SignalDef] = [
        _s(
            mux_name,
            0,
            8,
            1,
            0,
            0,
            frames - 1,
            "",
            f"Frame index k; slot j carries element {per_frame}*k + j.",
            is_multiplexer=True,
        )
    ]
    for k in range(frames):
        for j in range(per_frame):
            i = k * per_frame + j
            if i >= total:
                break
            if kind == "cellv":
                sigs.append(
                    _s(
                        f"CellVoltage{i:03d}",
                        first_bit + 16 * j,
                        16,
                        0.001,
                        0,
                        0,
                        64.255,
                        "V",
                        f"Voltage of cell {i} (zero-based).",
                        mux_id=k,
                        array="CellVoltage",
                        index=i,
                    )
                )
            else:
                sigs.append(
                    _s(
                        f"TempSensor{i:02d}",
                        first_bit + 8 * j,
                        8,
                        1,
                        -40,
                        -40,
                        210,
                        "degC",
                        f"Temperature sensor {i} (zero-based).",
                        mux_id=k,
                        array="TempSensor",
                        index=i,
                    )
                )
    return MessageDef(name, pgn, "BMS", comment, tuple(sigs))


def _fault_message() -> MessageDef:
    frames = MAX_FAULTS // FAULTS_PER_FRAME
    sigs: list[SignalDef] = [
        _s(
            "Fault_FrameIndex",
            0,
            8,
            1,
            0,
            0,
            frames - 1,
            "",
            "Frame index k; slots carry faults 2k and 2k+1.",
            is_multiplexer=True,
        ),
        _s(
            "Fault_ActiveCount",
            8,
            8,
            1,
            0,
            0,
            250,
            "",
            "Number of active faults; slots at or beyond it are empty.",
        ),
    ]
    for k in range(frames):
        for j in range(FAULTS_PER_FRAME):
            i = k * FAULTS_PER_FRAME + j
            base = 16 + 24 * j
            sigs.append(
                _s(
                    f"Fault_Spn{i:02d}",
                    base,
                    19,
                    1,
                    0,
                    0,
                    524287,
                    "",
                    f"SPN of active fault {i} (0 = empty slot).",
                    mux_id=k,
                    array="Fault_Spn",
                    index=i,
                )
            )
            sigs.append(
                _s(
                    f"Fault_Fmi{i:02d}",
                    base + 19,
                    5,
                    1,
                    0,
                    0,
                    31,
                    "",
                    f"FMI of active fault {i}.",
                    mux_id=k,
                    array="Fault_Fmi",
                    index=i,
                )
            )
    return MessageDef(
        "PW_FAULTS",
        0xFF12,
        "BMS",
        "Active fault codes as J1939 SPN + FMI, packed contiguously "
        "(not the split DM1 layout); one frame per two faults, at least one.",
        tuple(sigs),
    )


def _vehicle_messages() -> list[MessageDef]:
    return [
        MessageDef(
            "CCVS1",
            65265,
            "VCU",
            "Cruise control/vehicle speed 1 (speed only).",
            (
                _s(
                    "WheelBasedVehicleSpeed",
                    8,
                    16,
                    1 / 256,
                    0,
                    0,
                    250.99609375,
                    "km/h",
                    "Wheel-based vehicle speed.",
                ),
            ),
            priority=6,
            cycle_ms=100,
        ),
        MessageDef(
            "VDHR",
            65217,
            "VCU",
            "High-resolution vehicle distance.",
            (
                _s("HiResTotalVehicleDistance", 0, 32, 0.005, 0, 0, 21055406, "km", "Odometer."),
                _s("HiResTripDistance", 32, 32, 0.005, 0, 0, 21055406, "km", "Trip distance."),
            ),
        ),
        MessageDef(
            "VP",
            65267,
            "TCU",
            "Vehicle position (GNSS).",
            (
                _s("Latitude", 0, 32, 1e-7, -210, -90, 90, "deg", "WGS 84 latitude."),
                _s("Longitude", 32, 32, 1e-7, -210, -180, 180, "deg", "WGS 84 longitude."),
            ),
        ),
        MessageDef(
            "AMB",
            65269,
            "VCU",
            "Ambient conditions (air temperature only).",
            (_s("AmbientAirTemp", 24, 16, *_T16, "degC", "Ambient air temperature."),),
        ),
        MessageDef(
            "PW_CHG",
            0xFF15,
            "VCU",
            "Charging session state; proprietary-B PGN.",
            (
                _s(
                    "ChargingState",
                    0,
                    4,
                    1,
                    0,
                    0,
                    15,
                    "",
                    "DC charging state, values as VSS TractionBattery.ChargingState.",
                    choices=(
                        (0, "IDLE"),
                        (1, "CHARGING"),
                        (2, "STANDBY"),
                        (10, "INITIALISING"),
                        (11, "PRE_CHARGE"),
                        (12, "TERMINATING"),
                        (13, "BATTERY_FAILURE"),
                        (14, "EVSE_FAULT"),
                        (15, "not_available"),
                    ),
                ),
                _s(
                    "ChargePlugConnected",
                    4,
                    2,
                    1,
                    0,
                    0,
                    3,
                    "",
                    "Charging cable plugged in.",
                    choices=((0, "no"), (1, "yes"), (2, "error"), (3, "not_available")),
                ),
                _s(
                    "ChargerPower",
                    8,
                    16,
                    0.1,
                    0,
                    -3276.8,
                    3276.7,
                    "kW",
                    "Power from the charger; negative = export to grid.",
                    signed=True,
                ),
                _s("ChargerVoltage", 24, 16, *_V16, "V", "DC voltage at the charging inlet."),
                _s(
                    "ChargerCurrent",
                    40,
                    16,
                    *_A16,
                    "A",
                    "DC current at the inlet; negative = export to grid.",
                ),
            ),
        ),
    ]


@cache
def message_table() -> tuple[MessageDef, ...]:
    """All parameter groups, in the order they appear in the DBC (built once, immutable)."""
    return (
        *_pack_messages(),
        _array_message(
            "PW_CELLV",
            0xFF10,
            "All cell voltages, 3 per frame, 1 mV/bit.",
            "CellVoltage_FrameIndex",
            CELLS_PER_FRAME,
            MAX_CELLS,
            8,
            kind="cellv",
        ),
        _array_message(
            "PW_CELLT",
            0xFF11,
            "All temperature sensors, 7 per frame, 1 degC/bit, offset -40.",
            "TempSensor_FrameIndex",
            SENSORS_PER_FRAME,
            MAX_TEMP_SENSORS,
            8,
            kind="temp",
        ),
        _fault_message(),
        *_vehicle_messages(),
    )
