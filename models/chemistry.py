"""What the pack engineers know about each cell from the lab: OCV curves and nominal resistance.

These are the characterisation data a real deployment gets from the cell
supplier's test reports; for the simulated fleet they are the curves the
simulator's cells follow. SoC anchoring uses only the parts of the curve where
the voltage says something: LFP's plateau (about 20-90 % SoC) moves by a few
millivolts over tens of percent, less than its hysteresis, so LFP anchors only
near the ends of the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.fleet import DESIGNS, PackDesign

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CellChemistry:
    """Lab data of one cell type (per series element)."""

    ocv_soc: tuple[float, ...]
    ocv_v: tuple[float, ...]
    r0_ohm: float  # DC R0 at 25 degC, new
    r1_ohm: float  # charge-transfer RC pair (settles in ~tau1)
    tau1_s: float
    r2_ohm: float  # diffusion RC pair (settles in ~tau2)
    tau2_s: float
    hysteresis_v: float  # half-width of the OCV hysteresis band
    hysteresis_rate: float  # saturation per unit of charge throughput (1/nominal capacity)
    r_activation_k: float  # Arrhenius activation of R, for normalising to 25 degC
    anchor_low: float  # rests with OCV SoC at or below this are trustworthy anchors
    anchor_high: float  # ... and at or above this
    v_max: float


NMC = CellChemistry(
    ocv_soc=(0.0, 0.03, 0.07, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    ocv_v=(3.00, 3.35, 3.50, 3.55, 3.62, 3.66, 3.70, 3.75, 3.83, 3.91, 3.99, 4.07, 4.17),
    r0_ohm=0.45e-3,
    r1_ohm=0.20e-3,
    tau1_s=25.0,
    r2_ohm=0.15e-3,
    tau2_s=600.0,
    hysteresis_v=0.004,
    hysteresis_rate=40.0,
    r_activation_k=3500.0,
    # NMC's OCV slopes everywhere (>= 4 mV per % SoC above 10 %): any rest anchors.
    anchor_low=1.0,
    anchor_high=0.0,
    v_max=4.20,
)

LFP = CellChemistry(
    ocv_soc=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0),
    ocv_v=(
        2.80,
        3.00,
        3.15,
        3.21,
        3.255,
        3.275,
        3.285,
        3.290,
        3.295,
        3.305,
        3.325,
        3.335,
        3.345,
        3.38,
        3.50,
    ),  # fmt: skip
    r0_ohm=0.50e-3,
    r1_ohm=0.25e-3,
    tau1_s=30.0,
    r2_ohm=0.20e-3,
    tau2_s=800.0,
    hysteresis_v=0.012,
    hysteresis_rate=25.0,
    r_activation_k=3000.0,
    anchor_low=0.12,
    anchor_high=0.93,
    v_max=3.65,
)


def chemistry(design: PackDesign) -> CellChemistry:
    """The lab data for a design's cells."""
    return LFP if design.chemistry == "LFP" else NMC


def soc_from_ocv(chem: CellChemistry, v: F64 | float) -> F64:
    """SoC (0..1) of a relaxed cell at voltage ``v`` (OCV is monotonic)."""
    return np.interp(np.asarray(v, dtype=np.float64), chem.ocv_v, chem.ocv_soc)


def r_factor(chem: CellChemistry, temp_c: F64 | float) -> F64:
    """Resistance at ``temp_c`` over resistance at 25 degC (Arrhenius)."""
    t = np.asarray(temp_c, dtype=np.float64) + 273.15
    return np.exp(chem.r_activation_k * (1.0 / t - 1.0 / 298.15))


def r_to_25c(chem: CellChemistry, r_ohm: F64 | float, temp_c: F64 | float) -> F64:
    """Resistance measured at ``temp_c`` normalised to 25 degC (Arrhenius)."""
    return np.asarray(r_ohm, dtype=np.float64) / r_factor(chem, temp_c)


def design_by_id(design_id: str) -> PackDesign:
    """The registry design (KeyError for an unknown id)."""
    return DESIGNS[design_id]


def design_by_shape(cells: int, sensors: int) -> PackDesign | None:
    """The design with this many series cells and sensors, if exactly one has them."""
    found = [d for d in DESIGNS.values() if d.cells_series == cells and d.temp_sensors == sensors]
    return found[0] if len(found) == 1 else None
