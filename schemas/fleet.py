"""Pack designs and the demo fleet: the registry's reference data, in one place.

The seed command writes these rows; the simulator builds its buses from the
same designs; validation takes each design's cell and sensor counts.

Both designs are ~650 V class city-bus packs. Values marked *assumption* are
chosen to be typical for the chemistry, not taken from a data sheet:
- ``NMC-R3``: the incumbent imported NMC pack, 176 series × 2 parallel prismatic
  NMC cells of 180 Ah (3.68 V nominal) → 648 V, 360 Ah, ~233 kWh; liquid cooled
  plate; 44 sensors (one per four series cells). *assumption* for cell model.
- ``LFP-CALB-R1``: the localised LFP pack on CALB prismatic LFP cells of 280 Ah
  (3.2 V nominal, the class CALB sells for commercial vehicles) → 204 series ×
  1 parallel, 653 V, 280 Ah, ~183 kWh; liquid cooled; 48 sensors.
  *assumption* for the exact cell model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class PackDesign:
    """One design revision of a traction pack."""

    design_id: str
    revision: str
    chemistry: str  # "LFP" | "NMC"
    cell_supplier: str
    cell_model: str
    cells_series: int
    cells_parallel: int
    cell_nominal_ah: float
    cell_nominal_v: float
    cooling: str
    temp_sensors: int
    notes: str = ""

    @property
    def nominal_ah(self) -> float:
        return self.cell_nominal_ah * self.cells_parallel

    @property
    def nominal_v(self) -> float:
        return round(self.cell_nominal_v * self.cells_series, 1)

    @property
    def nominal_kwh(self) -> float:
        return self.nominal_ah * self.nominal_v / 1000.0

    def sensor_cells(self) -> list[list[int]]:
        """For each temperature sensor, the series cells it sits by (contiguous groups)."""
        out: list[list[int]] = []
        for s in range(self.temp_sensors):
            lo = s * self.cells_series // self.temp_sensors
            hi = (s + 1) * self.cells_series // self.temp_sensors
            out.append(list(range(lo, hi)))
        return out


NMC_R3 = PackDesign(
    design_id="NMC-R3",
    revision="R3",
    chemistry="NMC",
    cell_supplier="Imported NMC (incumbent)",
    cell_model="NMC622 prismatic 180 Ah",
    cells_series=176,
    cells_parallel=2,
    cell_nominal_ah=180.0,
    cell_nominal_v=3.68,
    cooling="liquid cold plate",
    temp_sensors=44,
    notes="Incumbent imported pack; reference for the localised LFP design.",
)

LFP_CALB_R1 = PackDesign(
    design_id="LFP-CALB-R1",
    revision="R1",
    chemistry="LFP",
    cell_supplier="CALB",
    cell_model="LFP prismatic 280 Ah",
    cells_series=204,
    cells_parallel=1,
    cell_nominal_ah=280.0,
    cell_nominal_v=3.2,
    cooling="liquid cold plate",
    temp_sensors=48,
    notes="Localised pack on imported CALB cells; first field revision.",
)

DESIGNS: dict[str, PackDesign] = {d.design_id: d for d in (NMC_R3, LFP_CALB_R1)}


@dataclass(frozen=True)
class Depot:
    depot_id: str
    name: str
    city: str
    latitude_deg: float
    longitude_deg: float
    timezone: str = "Asia/Kolkata"


@dataclass(frozen=True)
class Bus:
    vehicle_id: str
    depot_id: str
    design_id: str
    pack_id: str
    model: str = "Switch EiV12"
    commissioned_on: date = field(default=date(2025, 4, 1))


DEMO_DEPOTS: tuple[Depot, ...] = (
    Depot("CHN-MDV", "Madhavaram depot", "Chennai", 13.1487, 80.2317),
    Depot("MUM-WDL", "Wadala depot", "Mumbai", 19.0176, 72.8562),
    Depot("BLR-YPR", "Yeshwanthpur depot", "Bengaluru", 13.0285, 77.5400),
)


def demo_buses(n: int = 24) -> tuple[Bus, ...]:
    """``n`` buses spread over the demo depots; every third bus carries the LFP pack."""
    buses = []
    for i in range(n):
        depot = DEMO_DEPOTS[i % len(DEMO_DEPOTS)]
        design = LFP_CALB_R1 if i % 3 == 2 else NMC_R3
        buses.append(
            Bus(
                vehicle_id=f"BUS-{i + 1:04d}",
                depot_id=depot.depot_id,
                design_id=design.design_id,
                pack_id=f"PK-{design.design_id}-{i + 1:05d}",
            )
        )
    return tuple(buses)
