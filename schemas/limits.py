"""Physical and design limits a ``PackSample`` is checked against.

One :class:`PackLimits` per pack design: the array lengths come from the design
(cells in series, temperature sensors); the physical ranges have defaults wide
enough for any lithium-ion chemistry on a city bus and narrow enough to catch
corrupted frames. Time-window defaults live here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

#: How far ahead of the platform clock a vehicle timestamp may be (clock skew).
DEFAULT_MAX_FUTURE: Final = timedelta(minutes=5)
#: How old a vehicle timestamp may be: buses buffer data while out of coverage
#: or in the workshop, and a late sample is still worth storing.
DEFAULT_MAX_PAST: Final = timedelta(days=30)
#: Largest payload accepted: a 240-cell, 64-sensor sample is about 8 KiB.
DEFAULT_MAX_PAYLOAD_BYTES: Final = 64 * 1024

#: Largest value a sequence number may take (PostgreSQL bigint).
SEQ_MAX: Final = 2**63 - 1
#: J1939 DTCs are four bytes on the wire.
FAULT_CODE_MAX: Final = 2**32 - 1
#: Longest vehicle or pack id accepted.
ID_MAX_LEN: Final = 64


@dataclass(frozen=True, slots=True)
class PackLimits:
    """What a plausible sample of one pack design looks like.

    ``pack_voltage_max_v`` defaults to ``cells_in_series * cell_voltage_max_v``:
    a pack cannot read more than the sum of its cells' ceilings.
    Raises ``ValueError`` when the limits contradict themselves.
    """

    cells_in_series: int
    temp_sensors: int
    cell_voltage_min_v: float = 0.0
    cell_voltage_max_v: float = 5.0
    temp_min_c: float = -40.0
    temp_max_c: float = 125.0
    # Slightly below zero: with the contactors open the voltage sensor's
    # offset can read a few volts negative, and that sample is still valid.
    pack_voltage_min_v: float = -5.0
    pack_voltage_max_v: float | None = None
    # City-bus packs peak at several hundred amps; pantograph charging ~600 A.
    current_max_abs_a: float = 2000.0
    soc_min_pct: float = 0.0
    soc_max_pct: float = 100.0
    # A new pack can hold a little more than its nominal capacity.
    soh_min_pct: float = 0.0
    soh_max_pct: float = 120.0
    # Insulation monitors saturate in the tens of megaohms.
    insulation_max_kohm: float = 1.0e7
    # Reversing buses report a small negative speed.
    speed_min_kmh: float = -30.0
    speed_max_kmh: float = 200.0
    odometer_max_km: float = 1.0e8
    max_fault_codes: int = 256

    def __post_init__(self) -> None:
        if self.cells_in_series < 1 or self.temp_sensors < 0:
            raise ValueError("a pack needs at least one cell and a non-negative sensor count")
        if self.pack_voltage_max_v is None:
            object.__setattr__(
                self, "pack_voltage_max_v", self.cells_in_series * self.cell_voltage_max_v
            )
        pairs = (
            (self.cell_voltage_min_v, self.cell_voltage_max_v),
            (self.temp_min_c, self.temp_max_c),
            (self.pack_voltage_min_v, self.pack_voltage_max_v),
            (self.soc_min_pct, self.soc_max_pct),
            (self.soh_min_pct, self.soh_max_pct),
            (self.speed_min_kmh, self.speed_max_kmh),
        )
        ceilings = (self.current_max_abs_a, self.insulation_max_kohm, self.odometer_max_km)
        if not all(math.isfinite(c) and c > 0 for c in ceilings) or self.max_fault_codes < 0:
            raise ValueError(f"limits must be finite and positive in {self!r}")
        for lo, hi in pairs:
            assert hi is not None  # set above
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"bad range [{lo}, {hi}] in {self!r}")

    @property
    def pack_voltage_ceiling_v(self) -> float:
        """Upper pack-voltage limit after the default has been applied."""
        assert self.pack_voltage_max_v is not None  # set in __post_init__
        return self.pack_voltage_max_v
