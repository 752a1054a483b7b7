"""What a vehicle is doing now, judged from its latest sample and that sample's age.

The thresholds are the rollups' own (``charging_s``: current above 0.5 A,
``driving_s``: speed above 1 km/h), so "charging" means the same on a
dashboard as in the summary.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.common import ChargingState

CHARGING_CURRENT_A = 0.5
DRIVING_SPEED_KMH = 1.0


def classify(
    ts: datetime | None,
    current_a: float | None,
    speed_kmh: float | None,
    charging_state: int | None,
    now: datetime,
    online_window: timedelta,
) -> str:
    """``offline`` (no sample within the window), else ``charging``, ``driving`` or ``idle``."""
    if ts is None or now - ts > online_window:
        return "offline"
    if charging_state == ChargingState.CHARGING or (current_a or 0.0) > CHARGING_CURRENT_A:
        return "charging"
    if (speed_kmh or 0.0) > DRIVING_SPEED_KMH:
        return "driving"
    return "idle"
