"""Lab characterisation of the fleet's cell types: OCV curves and equivalent circuit.

One table, two readers: the simulator's cells follow it (services/simulator/params.py)
and the models read it as a real deployment reads the cell supplier's test reports
(models/chemistry.py). Values are per series element at 25 degC; their sources are in
services/simulator/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellLab:
    """What the lab measured on one cell type (per series element, 25 degC)."""

    ocv_soc: tuple[float, ...]  # OCV table breakpoints (SoC 0..1)
    ocv_v: tuple[float, ...]
    hysteresis_v: float  # half-width of the OCV hysteresis band
    hysteresis_rate: float  # saturation per unit of charge throughput (1/capacity)
    r0_ohm: float  # ohmic resistance, new
    r1_ohm: float  # first RC pair: charge transfer
    tau1_s: float
    r2_ohm: float  # second RC pair: diffusion
    tau2_s: float
    r_activation_k: float  # Arrhenius temperature of R (R ∝ exp(Ta (1/T - 1/T25)))
    v_min: float
    v_max: float


NMC_LAB = CellLab(
    ocv_soc=(0.0, 0.03, 0.07, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    ocv_v=(3.00, 3.35, 3.50, 3.55, 3.62, 3.66, 3.70, 3.75, 3.83, 3.91, 3.99, 4.07, 4.17),
    hysteresis_v=0.004,
    hysteresis_rate=40.0,
    r0_ohm=0.45e-3,
    r1_ohm=0.20e-3,
    tau1_s=25.0,
    r2_ohm=0.15e-3,
    tau2_s=600.0,
    r_activation_k=3500.0,
    v_min=2.75,
    v_max=4.20,
)

LFP_LAB = CellLab(
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
    hysteresis_v=0.012,
    hysteresis_rate=25.0,
    r0_ohm=0.50e-3,
    r1_ohm=0.25e-3,
    tau1_s=30.0,
    r2_ohm=0.20e-3,
    tau2_s=800.0,
    r_activation_k=3000.0,
    v_min=2.50,
    v_max=3.65,
)
