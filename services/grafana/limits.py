"""Thresholds shared by the dashboards and the alert rules, so both say the same thing.

- Cell temperature: LFP and NMC traction cells are specified to about 55–60 °C
  in operation; 50 °C leaves time to act before the BMS derates.
- Insulation: UN ECE R100 asks for at least 100 Ω/V on DC circuits (65 kΩ on
  a 650 V pack) and 500 Ω/V where AC is involved; warning at 500 Ω/V
  (325 kΩ) catches a falling insulation before it reaches the legal floor.
"""

from __future__ import annotations

CELL_TEMP_HIGH_C = 50.0
CELL_TEMP_LOW_C = 0.0
INSULATION_LOW_KOHM = 325.0
#: Seconds from a sample's bus time to its database commit that count as lagging.
INGEST_LAG_HIGH_S = 120.0
#: Minutes without a sample after which a bus (not in maintenance) is reported silent.
SILENT_AFTER_MIN = 15.0
#: A bus is online when its newest minute rollup is at most this old.
ONLINE_WITHIN = "5 minutes"
