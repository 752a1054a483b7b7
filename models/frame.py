"""One tick of telemetry for many packs of one design, as column arrays.

Both the live scoring service (from decoded ``PackSample`` payloads, see
``services/scoring/samples.py``) and training and evaluation (straight from
the simulator's readings) build a :class:`Frame`,
so the models see the same numbers on both paths. Missing scalar readings are
NaN; temperature arrays keep the BMS's -40 degC open-sensor value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass
class Frame:
    """Rows are packs of one design; ``cell_v`` is (packs, cells), ``temps`` (packs, sensors)."""

    design_id: str
    vehicle_ids: list[str]
    ts_s: F64  # vehicle time, unix seconds
    current_a: F64  # positive = charging
    cell_v: F64
    temps: F64
    inlet_c: F64
    outlet_c: F64
    ambient_c: F64
    insulation_kohm: F64

    @property
    def n(self) -> int:
        """Number of packs."""
        return len(self.vehicle_ids)

    def take(self, rows: npt.NDArray[np.intp]) -> Frame:
        """The sub-frame of ``rows``."""
        ids = self.vehicle_ids
        return Frame(
            self.design_id,
            # Python ints from tolist: int() of each numpy integer costs five times more.
            [ids[i] for i in rows.tolist()],
            self.ts_s[rows],
            self.current_a[rows],
            self.cell_v[rows],
            self.temps[rows],
            self.inlet_c[rows],
            self.outlet_c[rows],
            self.ambient_c[rows],
            self.insulation_kohm[rows],
        )
