"""What the pack engineers know about each cell from the lab: OCV curves and nominal resistance.

These are the characterisation data a real deployment gets from the cell
supplier's test reports; for the simulated fleet they are the curves the
simulator's cells follow. SoC anchoring uses only the parts of the curve where
the voltage says something: LFP's plateau (about 20-90 % SoC) moves by a few
millivolts over tens of percent, less than its hysteresis, so LFP anchors only
near the ends of the curve.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from schemas.cells import LFP_LAB, NMC_LAB, CellLab
from schemas.fleet import DESIGNS, PackDesign

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CellChemistry(CellLab):
    """Lab data of one cell type (:mod:`schemas.cells`) and where its OCV can anchor SoC."""

    anchor_low: float = 1.0  # rests with OCV SoC at or below this are trustworthy anchors
    anchor_high: float = 0.0  # ... and at or above this


# NMC's OCV slopes everywhere (>= 4 mV per % SoC above 10 %): any rest anchors.
NMC = CellChemistry(**asdict(NMC_LAB))
LFP = CellChemistry(**asdict(LFP_LAB), anchor_low=0.12, anchor_high=0.93)


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
