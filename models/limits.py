"""Safety thresholds per pack design, in one table.

The rules in :mod:`models.rules` read only this table and the readings; no
model is involved, so a rule keeps working when a model file is missing or
wrong. Values and their reasons:

- over-temperature: the BMS raises its own DTC at 55 degC; warning 50 degC
  gives the operator minutes of margin, critical 58 degC is near where cell
  makers stop allowing charge (60 degC) and where NMC ageing runs away.
- rate of rise: healthy cells under 0.5 C warm by well under 0.3 degC/min; a
  sustained 1 degC/min over 3 minutes is heat the cooling cannot explain.
- spread: a healthy liquid-cooled pack stays within a few degC across its
  sensors (inlet-to-outlet gradient plus noise); 10 degC means something local.
- coolant dT: outlet minus inlet is 1-3 degC at full pump flow; above 8 degC the
  flow has collapsed or the heat load is abnormal.
- insulation: UNECE R100 asks for >= 500 ohm/V (DC), 100 ohm/V is the floor for
  a galvanically connected system: at ~650 V that is 325 kohm and 65 kohm.
- cooling loop: not a threshold but the vehicle's thermal-management
  specification, in schemas/cooling.py (the simulator runs the same loop): a
  working chiller brings the inlet down to max(set point, outlet - 8000 /
  (0.25 * 3500)) = max(24, outlet - 9.1) degC.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.can.signals import message_table

#: A temperature sensor reading at or below this is an open NTC, not a temperature.
OPEN_SENSOR_C = -39.5
#: The insulation monitor's full scale (DBC ``Insulation_ResistanceSystem``). A
#: monitor reads its full scale for any resistance above it, so such a reading says
#: "at least", not a level: it never stands as the day's peak the insulation check
#: compares with (a healthy 4,000 kOhm would read as 6 % of it for a day).
INSULATION_FULL_SCALE_KOHM = next(
    s.maximum for m in message_table() for s in m.signals if s.name == "Insulation_ResistanceSystem"
)
#: A cell's thermal limit: where the BMS raises its own over-temperature DTC and
#: cell makers stop allowing charge. A fault that takes a cell past it within an
#: hour of its onset is in the severe band (models/evaluate.py).
THERMAL_LIMIT_C = 55.0


@dataclass(frozen=True)
class SafetyLimits:
    """Thresholds of the deterministic safety rules for one pack design."""

    over_temp_warn_c: float
    over_temp_crit_c: float
    rise_c_per_min: float
    rise_window_s: float
    spread_warn_c: float
    coolant_dt_warn_c: float
    insulation_warn_kohm: float
    insulation_crit_kohm: float


LIMITS: dict[str, SafetyLimits] = {
    "NMC-R3": SafetyLimits(
        over_temp_warn_c=50.0,
        over_temp_crit_c=58.0,
        rise_c_per_min=1.0,
        rise_window_s=180.0,
        spread_warn_c=10.0,
        coolant_dt_warn_c=8.0,
        insulation_warn_kohm=0.5 * 648.0,
        insulation_crit_kohm=0.1 * 648.0,
    ),
    "LFP-CALB-R1": SafetyLimits(
        over_temp_warn_c=50.0,
        over_temp_crit_c=58.0,
        rise_c_per_min=1.0,
        rise_window_s=180.0,
        spread_warn_c=10.0,
        coolant_dt_warn_c=8.0,
        insulation_warn_kohm=0.5 * 653.0,
        insulation_crit_kohm=0.1 * 653.0,
    ),
}
