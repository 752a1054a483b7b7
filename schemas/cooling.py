"""The pack's liquid cooling loop as the vehicle's thermal-management specification states it.

One table for the simulator (which runs the loop) and the models (which judge
whether a chiller does what the specification says it can): 50/50 glycol at
0.25 kg/s through the plates; the chiller starts when the hottest cell passes
30 degC, stops below 27 degC, holds the inlet at a 24 degC set point and
removes up to 8 kW. With the chiller off, the radiator brings the inlet 30 %
of the way from the outlet to the ambient air. Either reaches its inlet
temperature with a 90-s time constant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoolingLoop:
    """Pump flow, coolant heat capacity and the chiller's control and capacity."""

    flow_kg_s: float = 0.25  # ~15 L/min of 50/50 glycol
    cp_coolant: float = 3500.0  # J/(kg K)
    chiller_setpoint_c: float = 24.0
    chiller_on_above_c: float = 30.0  # pack max temperature that starts the chiller
    chiller_off_below_c: float = 27.0
    chiller_kw: float = 8.0  # heat the chiller can remove
    radiator_share: float = 0.3  # of the outlet's difference to ambient, chiller off
    inlet_tau_s: float = 90.0  # how fast the inlet reaches what chiller or radiator give

    @property
    def chiller_pull_c(self) -> float:
        """How far below the outlet a working chiller at full flow can bring the inlet."""
        return self.chiller_kw * 1000.0 / (self.flow_kg_s * self.cp_coolant)


LOOP = CoolingLoop()
