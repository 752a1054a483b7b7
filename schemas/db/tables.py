"""Table definitions shared by migrations, ingestion, the API and Grafana.

Column names follow :class:`schemas.pack_sample.PackSample`, units in the name.
Time columns are ``timestamptz``; every id is text as the fleet writes it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL, UUID

metadata = MetaData()

TSTZ = DateTime(timezone=True)
NOW = text("now()")

depots = Table(
    "depots",
    metadata,
    Column("depot_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("timezone", Text, nullable=False, server_default="Asia/Kolkata"),
    Column("latitude_deg", Float),
    Column("longitude_deg", Float),
)

pack_designs = Table(
    "pack_designs",
    metadata,
    Column("design_id", Text, primary_key=True),
    Column("revision", Text, nullable=False),
    Column("chemistry", Text, nullable=False),
    Column("cell_supplier", Text, nullable=False),
    Column("cell_model", Text, nullable=False),
    Column("cells_series", SmallInteger, nullable=False),
    Column("cells_parallel", SmallInteger, nullable=False),
    Column("cell_nominal_ah", REAL, nullable=False),
    Column("nominal_ah", REAL, nullable=False),
    Column("nominal_v", REAL, nullable=False),
    Column("cooling", Text, nullable=False),
    Column("temp_sensors", SmallInteger, nullable=False),
    # sensor index → the cell indices it sits by (a list of lists), for heatmaps
    # and for telling a hot cell from a hot sensor.
    Column("sensor_cells", JSONB, nullable=False),
    Column("notes", Text),
    CheckConstraint("chemistry IN ('LFP', 'NMC')", name="ck_pack_designs_chemistry"),
    CheckConstraint("cells_series BETWEEN 1 AND 240", name="ck_pack_designs_series"),
    CheckConstraint("temp_sensors BETWEEN 1 AND 64", name="ck_pack_designs_sensors"),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("vehicle_id", Text, primary_key=True),
    Column("depot_id", Text, ForeignKey("depots.depot_id"), nullable=False),
    Column("model", Text, nullable=False),
    Column("registration", Text),
    Column("commissioned_on", Date),
    Column("in_maintenance", Boolean, nullable=False, server_default=text("false")),
    Index("ix_vehicles_depot", "depot_id"),
)

packs = Table(
    "packs",
    metadata,
    Column("pack_id", Text, primary_key=True),
    Column("design_id", Text, ForeignKey("pack_designs.design_id"), nullable=False),
    Column("vehicle_id", Text, ForeignKey("vehicles.vehicle_id")),
    Column("installed_at", TSTZ),
    Column("removed_at", TSTZ),
    Column("cell_lot", Text),
    Index("ix_packs_vehicle", "vehicle_id"),
)

# One row per bus-second; the natural key (vehicle_id, ts) makes replays idempotent.
pack_samples = Table(
    "pack_samples",
    metadata,
    Column("vehicle_id", Text, nullable=False),
    Column("ts", TSTZ, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("received_at", TSTZ),
    # clock_timestamp, not now(): the moment the row was written, not when its
    # transaction began, so ingested_at - ts measures ingestion latency.
    Column("ingested_at", TSTZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("pack_id", Text),
    Column("pack_voltage_v", REAL, nullable=False),
    Column("pack_current_a", REAL, nullable=False),
    Column("soc_pct", REAL, nullable=False),
    Column("soh_pct", REAL),
    Column("cell_voltage_min_v", REAL),
    Column("cell_voltage_max_v", REAL),
    Column("cell_voltage_mean_v", REAL),
    Column("cell_voltage_min_idx", SmallInteger),
    Column("cell_voltage_max_idx", SmallInteger),
    Column("cell_temp_min_c", REAL),
    Column("cell_temp_max_c", REAL),
    Column("cell_temp_mean_c", REAL),
    Column("cell_temp_min_idx", SmallInteger),
    Column("cell_temp_max_idx", SmallInteger),
    Column("coolant_inlet_c", REAL),
    Column("coolant_outlet_c", REAL),
    Column("ambient_c", REAL),
    Column("insulation_kohm", REAL),
    Column("contactor_state", SmallInteger),
    Column("hvil_state", SmallInteger),
    Column("charging_state", SmallInteger),
    Column("fault_codes", ARRAY(BigInteger)),
    Column("speed_kmh", REAL),
    Column("odometer_km", Float),
    Column("latitude_deg", Float),
    Column("longitude_deg", Float),
    Column("cell_voltages", ARRAY(REAL), nullable=False),
    Column("cell_temps", ARRAY(REAL), nullable=False),
    PrimaryKeyConstraint("vehicle_id", "ts", name="pk_pack_samples"),
)

pack_health = Table(
    "pack_health",
    metadata,
    Column("vehicle_id", Text, nullable=False),
    Column("pack_id", Text, nullable=False),
    Column("ts", TSTZ, nullable=False),
    Column("soh_pct", REAL, nullable=False),
    Column("soh_low_pct", REAL),
    Column("soh_high_pct", REAL),
    Column("capacity_ah", REAL),
    Column("resistance_growth_pct", REAL),
    Column("weak_cells", ARRAY(SmallInteger)),
    Column("model_version", Text, nullable=False),
    Column("computed_at", TSTZ, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("pack_id", "ts", name="pk_pack_health"),
    Index("ix_pack_health_vehicle_ts", "vehicle_id", "ts"),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("vehicle_id", Text, nullable=False),
    Column("pack_id", Text),
    Column("ts", TSTZ, nullable=False),
    Column("detected_at", TSTZ, nullable=False),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("cell_index", SmallInteger),
    Column("sensor_index", SmallInteger),
    Column("score", REAL),
    Column("cleared", Boolean, nullable=False, server_default=text("false")),
    Column("evidence", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("model_version", Text),
    Index("ix_anomalies_vehicle_ts", "vehicle_id", "ts"),
    Index("ix_anomalies_kind_ts", "kind", "ts"),
    CheckConstraint("severity IN ('info', 'warning', 'critical')", name="ck_anomalies_severity"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", UUID(as_uuid=True), primary_key=True),
    Column("vehicle_id", Text, nullable=False),
    Column("pack_id", Text),
    Column("depot_id", Text),
    Column("kind", Text, nullable=False),
    # "cell:17", "sensor:4" or "pack": one alert per (vehicle, kind, location)
    Column("location", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("opened_at", TSTZ, nullable=False),
    Column("acknowledged_at", TSTZ),
    Column("resolved_at", TSTZ),
    Column("last_event_at", TSTZ, nullable=False),
    Column("updated_at", TSTZ, nullable=False, server_default=NOW),
    Column("resolution_code", Text),
    Column("evidence", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("ix_alerts_vehicle_kind_location", "vehicle_id", "kind", "location"),
    Index("ix_alerts_state", "state"),
    CheckConstraint(
        "state IN ('open', 'acknowledged', 'resolved', 'auto_resolved')", name="ck_alerts_state"
    ),
    CheckConstraint("severity IN ('info', 'warning', 'critical')", name="ck_alerts_severity"),
)

# Ingestion bookkeeping: one row per committed batch, written in the same
# transaction as its rows, so "what was stored from which offsets" is auditable.
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("batch_id", BigInteger, primary_key=True, autoincrement=True),
    Column("consumer_group", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("offsets", JSONB, nullable=False),
    Column("rows_offered", Integer, nullable=False),
    Column("rows_inserted", Integer, nullable=False),
    Column("committed_at", TSTZ, nullable=False, server_default=NOW),
)

# Relations that are tables on both backends (rollups are listed in rollups.py).
TABLES = tuple(metadata.sorted_tables)
