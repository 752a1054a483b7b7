"""Public response types of the API (``*Public`` models), with OpenAPI examples.

Datetimes are always timezone-aware; numbers carry their unit in the name,
as in :mod:`schemas.db.tables`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

VehicleStatus = Literal["charging", "driving", "idle", "offline"]
Interval = Literal["raw", "1s", "10s", "1m", "15m", "1h"]
Scalar = float | int | str | None
PointValue = float | int | str | list[float | None] | None


class PackPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pack_id": "PK-NMC-R3-00001",
                    "design_id": "NMC-R3",
                    "chemistry": "NMC",
                    "vehicle_id": "BUS-0001",
                    "depot_id": "CHN-MDV",
                    "installed_at": "2025-04-01T00:00:00+00:00",
                    "removed_at": None,
                    "cell_lot": "LOT-NMC-R3-2025Q1",
                }
            ]
        }
    )
    pack_id: str
    design_id: str
    chemistry: str
    vehicle_id: str | None
    depot_id: str | None
    installed_at: AwareDatetime | None
    removed_at: AwareDatetime | None
    cell_lot: str | None


class VehiclePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle_id": "BUS-0001",
                    "depot_id": "CHN-MDV",
                    "model": "Switch EiV12",
                    "registration": None,
                    "commissioned_on": "2025-04-01",
                    "in_maintenance": False,
                    "pack_id": "PK-NMC-R3-00001",
                    "design_id": "NMC-R3",
                    "chemistry": "NMC",
                }
            ]
        }
    )
    vehicle_id: str
    depot_id: str
    model: str
    registration: str | None
    commissioned_on: date | None
    in_maintenance: bool
    pack_id: str | None
    design_id: str | None
    chemistry: str | None


class DesignPublic(BaseModel):
    design_id: str
    revision: str
    chemistry: str
    cell_supplier: str
    cell_model: str
    cells_series: int
    cells_parallel: int
    nominal_ah: float
    nominal_v: float
    cooling: str
    temp_sensors: int


class LatestState(BaseModel):
    """The vehicle's latest sample (scalars only), its age and the status it implies."""

    ts: AwareDatetime
    age_s: float = Field(description="Seconds between the sample's time and now")
    status: VehicleStatus
    values: dict[str, Scalar] = Field(examples=[{"soc_pct": 64.5, "pack_current_a": -120.0}])


class VehicleDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle": VehiclePublic.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "pack": None,
                    "design": None,
                    "latest": None,
                }
            ]
        }
    )
    vehicle: VehiclePublic
    pack: PackPublic | None
    design: DesignPublic | None
    latest: LatestState | None


class VehicleList(BaseModel):
    items: list[VehiclePublic]
    limit: int
    offset: int


class PackList(BaseModel):
    items: list[PackPublic]
    limit: int
    offset: int


class TelemetryPage(BaseModel):
    """A telemetry series, columnar: ``series[key][i]`` is bucket (or raw row) ``i``, oldest
    first. Keys: ``bucket`` and ``n`` (samples in the bucket) then the signals; for raw,
    ``ts``, the signals and, with ``include=cells``, the cell arrays."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle_id": "BUS-0001",
                    "interval": "1m",
                    "start": "2026-03-01T00:00:00+00:00",
                    "end": "2026-03-01T00:02:00+00:00",
                    "signals": ["soc_pct_avg"],
                    "series": {
                        "bucket": ["2026-03-01T00:00:00+00:00", "2026-03-01T00:01:00+00:00"],
                        "n": [60, 60],
                        "soc_pct_avg": [64.2, 64.0],
                    },
                    "next_cursor": None,
                }
            ]
        }
    )
    vehicle_id: str
    interval: Interval
    start: datetime = Field(description="Start of the range served (widened to a whole bucket)")
    end: datetime = Field(description="End of the range served, exclusive")
    signals: list[str]
    series: dict[str, list[PointValue]]
    next_cursor: str | None = Field(
        description="raw only: pass as `cursor` for the next page; null on the last page"
    )


class CellSnapshot(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle_id": "BUS-0001",
                    "ts": "2026-03-01T10:00:00+00:00",
                    "cell_voltages_v": [3.31, 3.30, 3.32],
                    "cell_temps_c": [28.5, 29.0],
                    "sensor_cells": [[0, 1], [2]],
                }
            ]
        }
    )
    vehicle_id: str
    ts: AwareDatetime
    cell_voltages_v: list[float | None]
    cell_temps_c: list[float | None]
    sensor_cells: list[list[int]] | None = Field(
        description="For each temperature sensor, the cell indices it sits by"
    )


class CellHeatmap(BaseModel):
    """``values[i][j]``: mean of cell (or sensor) ``i`` over the bucket starting ``times[j]``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vehicle_id": "BUS-0001",
                    "quantity": "voltage",
                    "interval": "1m",
                    "times": ["2026-03-01T10:00:00+00:00", "2026-03-01T10:01:00+00:00"],
                    "index": [0, 1],
                    "values": [[3.31, 3.30], [3.29, 3.30]],
                }
            ]
        }
    )
    vehicle_id: str
    quantity: Literal["voltage", "temperature"]
    interval: Literal["1s", "10s", "1m", "15m"]
    times: list[datetime]
    index: list[int]
    values: list[list[float | None]]


class Bin(BaseModel):
    lower: float | None = Field(description="Inclusive; null = unbounded")
    upper: float | None = Field(description="Exclusive; null = unbounded")
    count: int


class ThermalExcursion(BaseModel):
    vehicle_id: str
    pack_id: str | None
    depot_id: str
    ts: AwareDatetime
    cell_temp_min_c: float | None
    cell_temp_max_c: float | None
    reason: Literal["too_hot", "too_cold"]


class FleetSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-03-01T10:00:00+00:00",
                    "vehicles": 24,
                    "online": 20,
                    "charging": 5,
                    "driving": 12,
                    "idle": 3,
                    "offline": 4,
                    "soc_pct": [{"lower": 0, "upper": 10, "count": 1}],
                    "soh_pct": [{"lower": 90, "upper": 95, "count": 18}],
                    "thermal_limits_c": {"min": -10.0, "max": 55.0},
                    "outside_thermal_limits": [],
                }
            ]
        }
    )
    as_of: AwareDatetime
    vehicles: int
    online: int = Field(description="Reported within the online window (charging+driving+idle)")
    charging: int
    driving: int
    idle: int
    offline: int
    soc_pct: list[Bin] = Field(description="Latest SoC of online vehicles")
    soh_pct: list[Bin] = Field(description="Latest SoH estimate per vehicle (pack_health first)")
    thermal_limits_c: dict[str, float]
    outside_thermal_limits: list[ThermalExcursion]


class DepotPublic(BaseModel):
    depot_id: str
    name: str
    city: str
    timezone: str


class Status(BaseModel):
    status: str
    checks: dict[str, bool] | None = None
