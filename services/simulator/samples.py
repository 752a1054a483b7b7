"""Readings → ``PackSample``s at DBC resolution: the fast path for training and ingestion.

Values are quantised exactly as a decoder of the CAN bundles would read them
(same signal definitions), so a model trained on :func:`simulate_samples`
sees what it will see in production. Derived min/max/mean/index fields are
computed from the quantised arrays, consistent with ``with_cell_stats``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from schemas.common import ChargingState, ContactorState, HvilState, at_micros
from schemas.pack_sample import PackSample
from services.simulator.encode import quantise
from services.simulator.fleet import Fleet, FleetConfig
from services.simulator.readings import Readings


def dtc(spn: int, fmi: int) -> int:
    """A J1939 DTC as uint32: bytes 0-2 of the DM1 layout (SPN low 16 bits, then SPN
    high 3 bits above FMI), occurrence count 0."""
    return (spn & 0xFFFF) | (((spn >> 16) & 0x7) << 21) | ((fmi & 0x1F) << 16)


def pack_samples(r: Readings, received_at: datetime | None = None) -> list[PackSample]:
    """One ``PackSample`` per bus of ``r``, quantised at DBC resolution."""
    q = quantise
    cv = q("CellVoltage000", r.cell_voltages)
    ct = q("TempSensor00", r.cell_temps)
    cols = {
        "pack_voltage_v": q("HVESS_Voltage", r.pack_voltage_v),
        "pack_current_a": q("HVESS_Current", r.pack_current_a),
        "soc_pct": q("HVESS_FastSoC", r.soc_pct),
        "soh_pct": q("HVESS_StateOfHealth", r.soh_pct),
        "coolant_inlet_c": q("HVESS_CoolantInletTemp", r.coolant_inlet_c),
        "coolant_outlet_c": q("HVESS_CoolantOutletTemp", r.coolant_outlet_c),
        "ambient_c": q("AmbientAirTemp", r.ambient_c),
        "insulation_kohm": q("Insulation_ResistanceSystem", r.insulation_kohm),
        "speed_kmh": q("WheelBasedVehicleSpeed", r.speed_kmh),
        "odometer_km": q("HiResTotalVehicleDistance", r.odometer_km),
        "latitude_deg": q("Latitude", r.latitude_deg),
        "longitude_deg": q("Longitude", r.longitude_deg),
        "cell_voltage_min_v": cv.min(axis=1),
        "cell_voltage_max_v": cv.max(axis=1),
        "cell_voltage_mean_v": np.clip(cv.mean(axis=1), cv.min(axis=1), cv.max(axis=1)),
        "cell_temp_min_c": ct.min(axis=1),
        "cell_temp_max_c": ct.max(axis=1),
        "cell_temp_mean_c": np.clip(ct.mean(axis=1), ct.min(axis=1), ct.max(axis=1)),
    }
    lists = {k: v.tolist() for k, v in cols.items()}
    vmin_i, vmax_i = cv.argmin(axis=1).tolist(), cv.argmax(axis=1).tolist()
    tmin_i, tmax_i = ct.argmin(axis=1).tolist(), ct.argmax(axis=1).tolist()
    cv_l, ct_l = cv.tolist(), ct.tolist()
    out = []
    for b in range(r.n):
        # The HVESS charger status says 2 while charging; the VSS/DBC charging
        # state says CHARGING (1), as the CAN path encodes it.
        chg = ChargingState.CHARGING if r.charger_status[b] == 2 else ChargingState.IDLE
        out.append(
            PackSample(
                vehicle_id=r.vehicle_ids[b],
                pack_id=r.pack_ids[b],
                ts=at_micros(int(r.ts_us[b])),
                seq=int(r.seq[b]),
                received_at=received_at,
                cell_voltages=cv_l[b],
                cell_temps=ct_l[b],
                cell_voltage_min_idx=vmin_i[b],
                cell_voltage_max_idx=vmax_i[b],
                cell_temp_min_idx=tmin_i[b],
                cell_temp_max_idx=tmax_i[b],
                contactor_state=ContactorState.CLOSED
                if r.contactor_closed[b]
                else ContactorState.OPEN,
                hvil_state=HvilState.CLOSED,
                charging_state=chg,
                fault_codes=[dtc(s, f) for s, f in r.faults[b]],
                **{k: v[b] for k, v in lists.items()},
            )
        )
    return out


def simulate_samples(
    config: FleetConfig, duration_s: float, dt: float = 1.0
) -> Iterator[list[PackSample]]:
    """Simulate ``config`` for ``duration_s`` and yield each step's PackSamples (all buses).

    The fast path for model training: no CAN encoding, no Kafka. With ``dt``
    > 1 s the samples come every ``dt`` seconds (see :meth:`Fleet.step`).
    """
    fleet = Fleet(config)
    for readings in fleet.run(duration_s, dt):
        yield [s for r in readings for s in pack_samples(r)]
