"""Fast synthetic ``telemetry.pack.v1`` payloads for tests and load generators.

Physically dull but valid: each vehicle's pack drifts slowly, cells and
sensors carry small offsets. Arrays are drawn with numpy once per call and
encoded with msgspec, so a load generator can produce tens of thousands of
payloads a second. For realistic physics and faults use the simulator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import msgspec
import numpy as np

from schemas.common import ChargingState, ContactorState, HvilState
from schemas.messages import encode
from schemas.pack_sample import PackSample, with_cell_stats


def payloads(
    vehicles: Sequence[str],
    start: datetime,
    seconds: int,
    *,
    cells: int = 176,
    sensors: int = 44,
    seed: int = 0,
    variants: int = 64,
) -> Iterator[tuple[bytes, bytes, datetime]]:
    """(key, value, ts) for every vehicle and second, in time order.

    ``variants`` distinct array sets are drawn and reused, which keeps
    generation fast; timestamps, sequence numbers and scalars still differ.
    """
    rng = np.random.default_rng(seed)
    cell_sets = np.round(3.30 + rng.normal(0, 0.004, (variants, cells)), 3)
    temp_sets = np.round(28.0 + rng.normal(0, 0.8, (variants, sensors)), 1)
    templates = [
        with_cell_stats(
            PackSample(
                vehicle_id="template",
                ts=start,
                seq=0,
                pack_voltage_v=float(round(cell_sets[i].sum(), 2)),
                pack_current_a=float(round(rng.uniform(-250, 150), 1)),
                soc_pct=float(round(rng.uniform(20, 90), 1)),
                soh_pct=97.0,
                cell_voltages=[float(x) for x in cell_sets[i]],
                cell_temps=[float(x) for x in temp_sets[i]],
                coolant_inlet_c=24.0,
                coolant_outlet_c=26.5,
                ambient_c=31.0,
                insulation_kohm=2500.0,
                contactor_state=ContactorState.CLOSED,
                hvil_state=HvilState.CLOSED,
                charging_state=ChargingState.IDLE,
                speed_kmh=float(round(rng.uniform(0, 50), 1)),
                odometer_km=120_000.0,
            )
        )
        for i in range(variants)
    ]
    for s in range(seconds):
        ts = start + timedelta(seconds=s)
        for n, vid in enumerate(vehicles):
            t = templates[(s * 7 + n) % variants]
            sample = msgspec.structs.replace(
                t, vehicle_id=vid, ts=ts, seq=s, received_at=ts + timedelta(milliseconds=300)
            )
            yield vid.encode(), encode(sample), ts
