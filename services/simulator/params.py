"""Cell, thermal and vehicle parameters of the two pack designs the simulator knows.

The OCV curves and equivalent-circuit values come from the lab table the models
read too (:mod:`schemas.cells`). Every number is documented with its source in
``services/simulator/README.md``; values that are assumptions (typical for the
chemistry, not from a data sheet) are marked so there. Cell quantities are per
*series element* (for NMC-R3 two 180 Ah cells in parallel), so the pack model
never has to think about parallel strings: a series element is one electrical
and thermal node.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from schemas.cells import LFP_LAB, NMC_LAB
from schemas.cooling import CoolingLoop
from schemas.fleet import DESIGNS, PackDesign

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CellParams:
    """Electro-thermal parameters of one series element of a design, at 25 degC."""

    chemistry: str
    capacity_ah: float  # nominal, of the series element (parallel cells combined)
    r0_ohm: float  # ohmic resistance of the element
    r1_ohm: float  # first RC pair: charge transfer
    tau1_s: float
    r2_ohm: float  # second RC pair: diffusion
    tau2_s: float
    ocv_soc: tuple[float, ...]  # OCV table breakpoints (SoC 0..1)
    ocv_v: tuple[float, ...]
    hysteresis_v: float  # half-width of the OCV hysteresis band
    hysteresis_rate: float  # per unit of charge throughput (1/capacity) to saturate
    v_min: float
    v_max: float
    entropic_v_per_k: float  # dOCV/dT, drives reversible heat
    r_activation_k: float  # Arrhenius temperature of R0 (R ∝ exp(Ta (1/T - 1/T25)))
    mass_kg: float
    cp_j_per_kgk: float
    ha_coolant_w_per_k: float  # element ↔ cold plate at nominal flow
    k_neighbour_w_per_k: float  # element ↔ adjacent element
    ha_ambient_w_per_k: float  # element ↔ enclosure air / ambient
    capacity_spread: float  # relative std-dev, new cells
    resistance_spread: float
    # ageing (see ageing.py): fractional capacity loss coefficients
    cal_fade_per_sqrt_day: float  # at 25 degC, 50 % SoC
    cyc_fade_per_efc: float  # per equivalent full cycle at 25 degC
    fade_activation_k: float  # Arrhenius temperature of both fade terms
    resistance_per_fade: float  # relative R growth per unit relative capacity loss
    soc_max_charge: float  # depot charging target
    charge_c_rate: float  # max continuous charge C-rate


NMC_CELL = CellParams(
    chemistry="NMC",
    capacity_ah=360.0,
    **asdict(NMC_LAB),
    entropic_v_per_k=-0.10e-3,
    mass_kg=5.6,
    cp_j_per_kgk=1050.0,
    ha_coolant_w_per_k=3.0,
    k_neighbour_w_per_k=0.6,
    ha_ambient_w_per_k=0.04,
    capacity_spread=0.008,
    resistance_spread=0.03,
    cal_fade_per_sqrt_day=0.0012,
    cyc_fade_per_efc=0.7e-4,
    fade_activation_k=5500.0,
    resistance_per_fade=2.0,
    soc_max_charge=0.92,
    charge_c_rate=0.5,
)

LFP_CELL = CellParams(
    chemistry="LFP",
    capacity_ah=280.0,
    **asdict(LFP_LAB),
    entropic_v_per_k=-0.05e-3,
    mass_kg=5.4,
    cp_j_per_kgk=1000.0,
    ha_coolant_w_per_k=2.6,
    k_neighbour_w_per_k=0.6,
    ha_ambient_w_per_k=0.04,
    capacity_spread=0.006,
    resistance_spread=0.03,
    cal_fade_per_sqrt_day=0.0007,
    cyc_fade_per_efc=0.35e-4,
    fade_activation_k=5000.0,
    resistance_per_fade=1.5,
    soc_max_charge=0.97,
    charge_c_rate=0.5,
)

CELLS: dict[str, CellParams] = {"NMC-R3": NMC_CELL, "LFP-CALB-R1": LFP_CELL}


@dataclass(frozen=True)
class CoolingParams(CoolingLoop):
    """The pack's liquid loop: the specified flow and chiller (schemas/cooling.py) and its plant."""

    coolant_mass_kg: float = 12.0  # coolant inside the pack's plates and pipes


@dataclass(frozen=True)
class VehicleParams:
    """A 12 m city bus: what turns a speed trace into pack power."""

    mass_kg: float = 14500.0  # kerb mass; passengers added per trip
    cda_m2: float = 5.0
    crr: float = 0.008
    drive_efficiency: float = 0.86  # pack → wheel
    regen_efficiency: float = 0.65  # wheel → pack
    regen_max_kw: float = 150.0
    aux_base_kw: float = 2.5  # compressors, steering, electronics
    hvac_kw_per_k: float = 0.9  # AC load per degC of ambient above 22 degC
    hvac_max_kw: float = 16.0


COOLING = CoolingParams()
VEHICLE = VehicleParams()


def cell_params(design: PackDesign | str) -> CellParams:
    """The cell parameters of a design (object or id); KeyError for an unknown design."""
    design_id = design if isinstance(design, str) else design.design_id
    return CELLS[design_id]


def design(design_id: str) -> PackDesign:
    """The :class:`PackDesign` of ``design_id`` from the registry."""
    return DESIGNS[design_id]


def ocv(p: CellParams, soc: F64) -> F64:
    """Open-circuit voltage (V) at ``soc`` (0..1, clipped), by linear interpolation."""
    return np.interp(soc, p.ocv_soc, p.ocv_v)


def soc_from_ocv(p: CellParams, v: F64) -> F64:
    """Inverse of :func:`ocv` (OCV is monotonic in both tables)."""
    return np.interp(v, p.ocv_v, p.ocv_soc)
