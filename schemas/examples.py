"""Valid example messages, for tests, documentation and load generators.

Each factory returns a message that passes decoding and validation with the
matching :class:`~schemas.limits.PackLimits`; tests derive bad payloads from
them by changing one field. Values are deterministic for a given ``seed``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from schemas.common import (
    AlertState,
    AnomalyKind,
    ChargingState,
    ConditionState,
    ContactorState,
    HvilState,
    Severity,
)
from schemas.events import AlertEvent, AnomalyEvent, HealthScore
from schemas.limits import PackLimits
from schemas.pack_sample import PackSample, with_cell_stats

#: Reference instant of the examples (UTC).
EXAMPLE_TS = datetime(2026, 11, 2, 8, 30, 0, tzinfo=UTC)

#: Limits of the example pack: 192 LFP cells in series, 48 temperature sensors.
EXAMPLE_LIMITS = PackLimits(cells_in_series=192, temp_sensors=48)


def example_pack_sample(
    *,
    vehicle_id: str = "bus-0042",
    ts: datetime = EXAMPLE_TS,
    seq: int = 1234,
    limits: PackLimits = EXAMPLE_LIMITS,
    seed: int = 0,
) -> PackSample:
    """A plausible discharging LFP pack at about 64 % SoC, stats filled in."""
    rng = random.Random(seed)
    cells = [round(3.29 + rng.uniform(-0.01, 0.01), 3) for _ in range(limits.cells_in_series)]
    temps = [round(27.0 + rng.uniform(-1.5, 1.5), 1) for _ in range(limits.temp_sensors)]
    sample = PackSample(
        vehicle_id=vehicle_id,
        pack_id="PK-CALB-000917",
        ts=ts,
        seq=seq,
        received_at=ts + timedelta(milliseconds=850),
        pack_voltage_v=round(sum(cells), 2),
        pack_current_a=-182.5,
        soc_pct=64.2,
        soh_pct=96.5,
        cell_voltages=cells,
        cell_temps=temps,
        coolant_inlet_c=22.4,
        coolant_outlet_c=25.1,
        ambient_c=14.0,
        insulation_kohm=2150.0,
        contactor_state=ContactorState.CLOSED,
        hvil_state=HvilState.CLOSED,
        charging_state=ChargingState.IDLE,
        fault_codes=[],
        speed_kmh=31.5,
        odometer_km=184_233.7,
        latitude_deg=52.3731,
        longitude_deg=4.8922,
    )
    return with_cell_stats(sample)


def example_anomaly_event(*, vehicle_id: str = "bus-0042") -> AnomalyEvent:
    """A critical self-heating cell detected on sensor 17."""
    return AnomalyEvent(
        event_id="an-bus-0042-self_heating_cell-s17-20261102T0830Z",
        vehicle_id=vehicle_id,
        pack_id="PK-CALB-000917",
        ts=EXAMPLE_TS,
        detected_at=EXAMPLE_TS + timedelta(seconds=2),
        kind=AnomalyKind.SELF_HEATING_CELL,
        severity=Severity.CRITICAL,
        state=ConditionState.ACTIVE,
        cell_index=69,
        sensor_index=17,
        score=0.97,
        evidence={
            "sensor_temp_c": 58.4,
            "expected_temp_c": 29.1,
            "rise_rate_c_per_min": 1.8,
            "neighbour_temps_c": [28.9, 29.4],
        },
        model_version="thermal-iforest-1.0.0",
    )


def example_alert_event(*, vehicle_id: str = "bus-0042") -> AlertEvent:
    """The acknowledgement of the alert raised by :func:`example_anomaly_event`."""
    return AlertEvent(
        alert_id="al-000381",
        idempotency_key="al-000381:2",
        vehicle_id=vehicle_id,
        pack_id="PK-CALB-000917",
        depot_id="depot-north",
        kind=AnomalyKind.SELF_HEATING_CELL,
        severity=Severity.CRITICAL,
        state=AlertState.ACKNOWLEDGED,
        previous_state=AlertState.OPEN,
        changed_at=EXAMPLE_TS + timedelta(minutes=4),
        actor="user:m.devries",
        comment="Bus pulled from service, heading to workshop",
        cell_index=69,
        sensor_index=17,
        evidence={"sensor_temp_c": 58.4, "expected_temp_c": 29.1},
    )


def example_health_score(*, vehicle_id: str = "bus-0042") -> HealthScore:
    """A pack at 93.8 % SoH with a 1.2 % band."""
    return HealthScore(
        vehicle_id=vehicle_id,
        pack_id="PK-CALB-000917",
        ts=EXAMPLE_TS,
        soh_pct=93.8,
        soh_low_pct=92.6,
        soh_high_pct=95.0,
        capacity_ah=262.6,
        resistance_growth_pct=11.4,
        weak_cell_indices=[69],
        model_version="soh-gbr-1.0.0",
    )
