"""Initial schema: fleet registry, pack samples, rollups, health, anomalies, alerts.

On TimescaleDB (detected, or forced with PACKWATCH_DB_BACKEND) pack_samples and
pack_health become hypertables with compression and retention, and the
rollups are continuous aggregates with refresh policies; on plain PostgreSQL
the rollups are tables of the same names that ingestion keeps current.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 01:00:18.019620
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from schemas.db import timescale

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# The rollups as this revision creates them, written out: a migration must not
# change when the live definitions (schemas/db/rollups.py) do. A change to the
# rollups comes with a migration of its own, and
# tests/integration/test_db_schema.py checks that the migrations create what
# the live definitions describe. The TimescaleDB statements take the
# deployment's PACKWATCH_TS_* settings (timescale.TimescalePolicy).
_ROLLUPS = ('pack_samples_1m', 'pack_samples_1h')
# Plain PostgreSQL: per rollup, a state table (partial aggregates that ingestion
# merges into) and a view of the same name finishing them.
_STATE_COLUMNS = """    n bigint,
    soc_pct_min double precision,
    soc_pct_max double precision,
    soc_pct_avg_sum double precision,
    soc_pct_avg_cnt bigint,
    pack_voltage_v_min double precision,
    pack_voltage_v_max double precision,
    pack_voltage_v_avg_sum double precision,
    pack_voltage_v_avg_cnt bigint,
    pack_current_a_min double precision,
    pack_current_a_max double precision,
    pack_current_a_avg_sum double precision,
    pack_current_a_avg_cnt bigint,
    power_kw_avg_sum double precision,
    power_kw_avg_cnt bigint,
    cell_voltage_min_v double precision,
    cell_voltage_max_v double precision,
    cell_voltage_spread_max_v double precision,
    cell_temp_min_c double precision,
    cell_temp_max_c double precision,
    cell_temp_mean_c_sum double precision,
    cell_temp_mean_c_cnt bigint,
    cell_temp_spread_max_c double precision,
    coolant_inlet_c_avg_sum double precision,
    coolant_inlet_c_avg_cnt bigint,
    coolant_outlet_c_avg_sum double precision,
    coolant_outlet_c_avg_cnt bigint,
    ambient_c_avg_sum double precision,
    ambient_c_avg_cnt bigint,
    insulation_kohm_min double precision,
    speed_kmh_avg_sum double precision,
    speed_kmh_avg_cnt bigint,
    speed_kmh_max double precision,
    odometer_km_max double precision,
    energy_in_kwh double precision,
    energy_out_kwh double precision,
    charging_s double precision,
    driving_s double precision"""
_VIEW_COLUMNS = """    n AS n,
    soc_pct_min AS soc_pct_min,
    soc_pct_max AS soc_pct_max,
    soc_pct_avg_sum / nullif(soc_pct_avg_cnt, 0) AS soc_pct_avg,
    soc_pct_avg_cnt AS soc_pct_avg_cnt,
    pack_voltage_v_min AS pack_voltage_v_min,
    pack_voltage_v_max AS pack_voltage_v_max,
    pack_voltage_v_avg_sum / nullif(pack_voltage_v_avg_cnt, 0) AS pack_voltage_v_avg,
    pack_voltage_v_avg_cnt AS pack_voltage_v_avg_cnt,
    pack_current_a_min AS pack_current_a_min,
    pack_current_a_max AS pack_current_a_max,
    pack_current_a_avg_sum / nullif(pack_current_a_avg_cnt, 0) AS pack_current_a_avg,
    pack_current_a_avg_cnt AS pack_current_a_avg_cnt,
    power_kw_avg_sum / nullif(power_kw_avg_cnt, 0) AS power_kw_avg,
    power_kw_avg_cnt AS power_kw_avg_cnt,
    cell_voltage_min_v AS cell_voltage_min_v,
    cell_voltage_max_v AS cell_voltage_max_v,
    cell_voltage_spread_max_v AS cell_voltage_spread_max_v,
    cell_temp_min_c AS cell_temp_min_c,
    cell_temp_max_c AS cell_temp_max_c,
    cell_temp_mean_c_sum / nullif(cell_temp_mean_c_cnt, 0) AS cell_temp_mean_c,
    cell_temp_mean_c_cnt AS cell_temp_mean_c_cnt,
    cell_temp_spread_max_c AS cell_temp_spread_max_c,
    coolant_inlet_c_avg_sum / nullif(coolant_inlet_c_avg_cnt, 0) AS coolant_inlet_c_avg,
    coolant_inlet_c_avg_cnt AS coolant_inlet_c_avg_cnt,
    coolant_outlet_c_avg_sum / nullif(coolant_outlet_c_avg_cnt, 0) AS coolant_outlet_c_avg,
    coolant_outlet_c_avg_cnt AS coolant_outlet_c_avg_cnt,
    ambient_c_avg_sum / nullif(ambient_c_avg_cnt, 0) AS ambient_c_avg,
    ambient_c_avg_cnt AS ambient_c_avg_cnt,
    insulation_kohm_min AS insulation_kohm_min,
    speed_kmh_avg_sum / nullif(speed_kmh_avg_cnt, 0) AS speed_kmh_avg,
    speed_kmh_avg_cnt AS speed_kmh_avg_cnt,
    speed_kmh_max AS speed_kmh_max,
    odometer_km_max AS odometer_km_max,
    energy_in_kwh AS energy_in_kwh,
    energy_out_kwh AS energy_out_kwh,
    charging_s AS charging_s,
    driving_s AS driving_s"""


def _plain_ddl() -> list[str]:
    out = []
    for rollup in _ROLLUPS:
        out.append(
            f"""CREATE TABLE {rollup}_state (
    vehicle_id text NOT NULL,
    bucket timestamptz NOT NULL,
{_STATE_COLUMNS},
    CONSTRAINT pk_{rollup}_state PRIMARY KEY (vehicle_id, bucket)
)"""
        )
        out.append(
            f"CREATE VIEW {rollup} AS SELECT vehicle_id, bucket,\n{_VIEW_COLUMNS}\n"
            f"FROM {rollup}_state"
        )
    return out


def _plain_drop_ddl() -> list[str]:
    out = []
    for rollup in reversed(_ROLLUPS):
        out += [f"DROP VIEW IF EXISTS {rollup}", f"DROP TABLE IF EXISTS {rollup}_state"]
    return out


def _hypertable_ddl(p: timescale.TimescalePolicy) -> list[str]:
    return [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        f"SELECT create_hypertable('pack_samples', by_range('ts', INTERVAL '{p.chunk_interval}'))",
        "SELECT create_hypertable('pack_health', "
        f"by_range('ts', INTERVAL '{p.health_chunk_interval}'))",
        "ALTER TABLE pack_samples SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'vehicle_id', timescaledb.compress_orderby = 'ts DESC')",
        f"SELECT add_compression_policy('pack_samples', INTERVAL '{p.compress_after}')",
        f"SELECT add_retention_policy('pack_samples', INTERVAL '{p.raw_retention}')",
    ]


def _aggregate_policy_ddl(p: timescale.TimescalePolicy) -> list[str]:
    return [
        "SELECT add_continuous_aggregate_policy('pack_samples_1m', "
        f"start_offset => INTERVAL '{p.minute_refresh_start}', "
        f"end_offset => INTERVAL '{p.minute_refresh_end}', "
        f"schedule_interval => INTERVAL '{p.minute_refresh_every}')",
        "SELECT add_continuous_aggregate_policy('pack_samples_1h', "
        f"start_offset => INTERVAL '{p.hour_refresh_start}', "
        f"end_offset => INTERVAL '{p.hour_refresh_end}', "
        f"schedule_interval => INTERVAL '{p.hour_refresh_every}')",
        f"SELECT add_retention_policy('pack_samples_1m', INTERVAL '{p.minute_retention}')",
    ]


_CONTINUOUS_AGGREGATE_DDL = (
    """CREATE MATERIALIZED VIEW pack_samples_1m WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
    count(*) AS n,
    min(soc_pct) AS soc_pct_min,
    max(soc_pct) AS soc_pct_max,
    avg(soc_pct::float8) AS soc_pct_avg,
    count(soc_pct::float8) AS soc_pct_avg_cnt,
    min(pack_voltage_v) AS pack_voltage_v_min,
    max(pack_voltage_v) AS pack_voltage_v_max,
    avg(pack_voltage_v::float8) AS pack_voltage_v_avg,
    count(pack_voltage_v::float8) AS pack_voltage_v_avg_cnt,
    min(pack_current_a) AS pack_current_a_min,
    max(pack_current_a) AS pack_current_a_max,
    avg(pack_current_a::float8) AS pack_current_a_avg,
    count(pack_current_a::float8) AS pack_current_a_avg_cnt,
    avg((pack_voltage_v::float8 * pack_current_a::float8) / 1000.0) AS power_kw_avg,
    count((pack_voltage_v::float8 * pack_current_a::float8) / 1000.0) AS power_kw_avg_cnt,
    min(cell_voltage_min_v) AS cell_voltage_min_v,
    max(cell_voltage_max_v) AS cell_voltage_max_v,
    max((cell_voltage_max_v - cell_voltage_min_v)) AS cell_voltage_spread_max_v,
    min(cell_temp_min_c) AS cell_temp_min_c,
    max(cell_temp_max_c) AS cell_temp_max_c,
    avg(cell_temp_mean_c::float8) AS cell_temp_mean_c,
    count(cell_temp_mean_c::float8) AS cell_temp_mean_c_cnt,
    max((cell_temp_max_c - cell_temp_min_c)) AS cell_temp_spread_max_c,
    avg(coolant_inlet_c::float8) AS coolant_inlet_c_avg,
    count(coolant_inlet_c::float8) AS coolant_inlet_c_avg_cnt,
    avg(coolant_outlet_c::float8) AS coolant_outlet_c_avg,
    count(coolant_outlet_c::float8) AS coolant_outlet_c_avg_cnt,
    avg(ambient_c::float8) AS ambient_c_avg,
    count(ambient_c::float8) AS ambient_c_avg_cnt,
    min(insulation_kohm) AS insulation_kohm_min,
    avg(speed_kmh::float8) AS speed_kmh_avg,
    count(speed_kmh::float8) AS speed_kmh_avg_cnt,
    max(speed_kmh) AS speed_kmh_max,
    max(odometer_km) AS odometer_km_max,
    coalesce(sum(greatest((pack_voltage_v::float8 * pack_current_a::float8), 0) / 3600000.0), 0) AS energy_in_kwh,
    coalesce(sum(greatest(-(pack_voltage_v::float8 * pack_current_a::float8), 0) / 3600000.0), 0) AS energy_out_kwh,
    coalesce(sum((pack_current_a > 0.5)::int), 0) AS charging_s,
    coalesce(sum((speed_kmh > 1)::int), 0) AS driving_s
FROM pack_samples GROUP BY vehicle_id, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA""",
    """CREATE MATERIALIZED VIEW pack_samples_1h WITH (timescaledb.continuous) AS
SELECT vehicle_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
    sum(n) AS n,
    min(soc_pct_min) AS soc_pct_min,
    max(soc_pct_max) AS soc_pct_max,
    sum(soc_pct_avg * soc_pct_avg_cnt) / nullif(sum(soc_pct_avg_cnt), 0) AS soc_pct_avg,
    sum(soc_pct_avg_cnt) AS soc_pct_avg_cnt,
    min(pack_voltage_v_min) AS pack_voltage_v_min,
    max(pack_voltage_v_max) AS pack_voltage_v_max,
    sum(pack_voltage_v_avg * pack_voltage_v_avg_cnt) / nullif(sum(pack_voltage_v_avg_cnt), 0) AS pack_voltage_v_avg,
    sum(pack_voltage_v_avg_cnt) AS pack_voltage_v_avg_cnt,
    min(pack_current_a_min) AS pack_current_a_min,
    max(pack_current_a_max) AS pack_current_a_max,
    sum(pack_current_a_avg * pack_current_a_avg_cnt) / nullif(sum(pack_current_a_avg_cnt), 0) AS pack_current_a_avg,
    sum(pack_current_a_avg_cnt) AS pack_current_a_avg_cnt,
    sum(power_kw_avg * power_kw_avg_cnt) / nullif(sum(power_kw_avg_cnt), 0) AS power_kw_avg,
    sum(power_kw_avg_cnt) AS power_kw_avg_cnt,
    min(cell_voltage_min_v) AS cell_voltage_min_v,
    max(cell_voltage_max_v) AS cell_voltage_max_v,
    max(cell_voltage_spread_max_v) AS cell_voltage_spread_max_v,
    min(cell_temp_min_c) AS cell_temp_min_c,
    max(cell_temp_max_c) AS cell_temp_max_c,
    sum(cell_temp_mean_c * cell_temp_mean_c_cnt) / nullif(sum(cell_temp_mean_c_cnt), 0) AS cell_temp_mean_c,
    sum(cell_temp_mean_c_cnt) AS cell_temp_mean_c_cnt,
    max(cell_temp_spread_max_c) AS cell_temp_spread_max_c,
    sum(coolant_inlet_c_avg * coolant_inlet_c_avg_cnt) / nullif(sum(coolant_inlet_c_avg_cnt), 0) AS coolant_inlet_c_avg,
    sum(coolant_inlet_c_avg_cnt) AS coolant_inlet_c_avg_cnt,
    sum(coolant_outlet_c_avg * coolant_outlet_c_avg_cnt) / nullif(sum(coolant_outlet_c_avg_cnt), 0) AS coolant_outlet_c_avg,
    sum(coolant_outlet_c_avg_cnt) AS coolant_outlet_c_avg_cnt,
    sum(ambient_c_avg * ambient_c_avg_cnt) / nullif(sum(ambient_c_avg_cnt), 0) AS ambient_c_avg,
    sum(ambient_c_avg_cnt) AS ambient_c_avg_cnt,
    min(insulation_kohm_min) AS insulation_kohm_min,
    sum(speed_kmh_avg * speed_kmh_avg_cnt) / nullif(sum(speed_kmh_avg_cnt), 0) AS speed_kmh_avg,
    sum(speed_kmh_avg_cnt) AS speed_kmh_avg_cnt,
    max(speed_kmh_max) AS speed_kmh_max,
    max(odometer_km_max) AS odometer_km_max,
    sum(energy_in_kwh) AS energy_in_kwh,
    sum(energy_out_kwh) AS energy_out_kwh,
    sum(charging_s) AS charging_s,
    sum(driving_s) AS driving_s
FROM pack_samples_1m GROUP BY vehicle_id, time_bucket(INTERVAL '1 hour', bucket)
WITH NO DATA""",
)


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('alerts',
    sa.Column('alert_id', sa.UUID(), nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('pack_id', sa.Text(), nullable=True),
    sa.Column('depot_id', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('severity', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolution_code', sa.Text(), nullable=True),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name='ck_alerts_severity'),
    sa.CheckConstraint("state IN ('open', 'acknowledged', 'resolved', 'auto_resolved')", name='ck_alerts_state'),
    sa.PrimaryKeyConstraint('alert_id')
    )
    op.create_index('ix_alerts_state', 'alerts', ['state'], unique=False)
    op.create_index('ix_alerts_vehicle_kind_location', 'alerts', ['vehicle_id', 'kind', 'location'], unique=False)
    op.create_table('anomalies',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('pack_id', sa.Text(), nullable=True),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('severity', sa.Text(), nullable=False),
    sa.Column('cell_index', sa.SmallInteger(), nullable=True),
    sa.Column('sensor_index', sa.SmallInteger(), nullable=True),
    sa.Column('score', sa.REAL(), nullable=True),
    sa.Column('cleared', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('model_version', sa.Text(), nullable=True),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name='ck_anomalies_severity'),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_anomalies_kind_ts', 'anomalies', ['kind', 'ts'], unique=False)
    op.create_index('ix_anomalies_vehicle_ts', 'anomalies', ['vehicle_id', 'ts'], unique=False)
    op.create_table('depots',
    sa.Column('depot_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('city', sa.Text(), nullable=False),
    sa.Column('timezone', sa.Text(), server_default='Asia/Kolkata', nullable=False),
    sa.Column('latitude_deg', sa.Float(), nullable=True),
    sa.Column('longitude_deg', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('depot_id')
    )
    op.create_table('ingest_batches',
    sa.Column('batch_id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('consumer_group', sa.Text(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('offsets', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('rows_offered', sa.Integer(), nullable=False),
    sa.Column('rows_inserted', sa.Integer(), nullable=False),
    sa.Column('committed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('batch_id')
    )
    op.create_table('pack_designs',
    sa.Column('design_id', sa.Text(), nullable=False),
    sa.Column('revision', sa.Text(), nullable=False),
    sa.Column('chemistry', sa.Text(), nullable=False),
    sa.Column('cell_supplier', sa.Text(), nullable=False),
    sa.Column('cell_model', sa.Text(), nullable=False),
    sa.Column('cells_series', sa.SmallInteger(), nullable=False),
    sa.Column('cells_parallel', sa.SmallInteger(), nullable=False),
    sa.Column('cell_nominal_ah', sa.REAL(), nullable=False),
    sa.Column('nominal_ah', sa.REAL(), nullable=False),
    sa.Column('nominal_v', sa.REAL(), nullable=False),
    sa.Column('cooling', sa.Text(), nullable=False),
    sa.Column('temp_sensors', sa.SmallInteger(), nullable=False),
    sa.Column('sensor_cells', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.CheckConstraint("chemistry IN ('LFP', 'NMC')", name='ck_pack_designs_chemistry'),
    sa.CheckConstraint('cells_series BETWEEN 1 AND 240', name='ck_pack_designs_series'),
    sa.CheckConstraint('temp_sensors BETWEEN 1 AND 64', name='ck_pack_designs_sensors'),
    sa.PrimaryKeyConstraint('design_id')
    )
    op.create_table('pack_health',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('pack_id', sa.Text(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('soh_pct', sa.REAL(), nullable=False),
    sa.Column('soh_low_pct', sa.REAL(), nullable=True),
    sa.Column('soh_high_pct', sa.REAL(), nullable=True),
    sa.Column('capacity_ah', sa.REAL(), nullable=True),
    sa.Column('resistance_growth_pct', sa.REAL(), nullable=True),
    sa.Column('weak_cells', postgresql.ARRAY(sa.SmallInteger()), nullable=True),
    sa.Column('model_version', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('pack_id', 'ts', name='pk_pack_health')
    )
    op.create_index('ix_pack_health_vehicle_ts', 'pack_health', ['vehicle_id', 'ts'], unique=False)
    op.create_table('pack_samples',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('pack_id', sa.Text(), nullable=True),
    sa.Column('pack_voltage_v', sa.REAL(), nullable=False),
    sa.Column('pack_current_a', sa.REAL(), nullable=False),
    sa.Column('soc_pct', sa.REAL(), nullable=False),
    sa.Column('soh_pct', sa.REAL(), nullable=True),
    sa.Column('cell_voltage_min_v', sa.REAL(), nullable=True),
    sa.Column('cell_voltage_max_v', sa.REAL(), nullable=True),
    sa.Column('cell_voltage_mean_v', sa.REAL(), nullable=True),
    sa.Column('cell_voltage_min_idx', sa.SmallInteger(), nullable=True),
    sa.Column('cell_voltage_max_idx', sa.SmallInteger(), nullable=True),
    sa.Column('cell_temp_min_c', sa.REAL(), nullable=True),
    sa.Column('cell_temp_max_c', sa.REAL(), nullable=True),
    sa.Column('cell_temp_mean_c', sa.REAL(), nullable=True),
    sa.Column('cell_temp_min_idx', sa.SmallInteger(), nullable=True),
    sa.Column('cell_temp_max_idx', sa.SmallInteger(), nullable=True),
    sa.Column('coolant_inlet_c', sa.REAL(), nullable=True),
    sa.Column('coolant_outlet_c', sa.REAL(), nullable=True),
    sa.Column('ambient_c', sa.REAL(), nullable=True),
    sa.Column('insulation_kohm', sa.REAL(), nullable=True),
    sa.Column('contactor_state', sa.SmallInteger(), nullable=True),
    sa.Column('hvil_state', sa.SmallInteger(), nullable=True),
    sa.Column('charging_state', sa.SmallInteger(), nullable=True),
    sa.Column('fault_codes', postgresql.ARRAY(sa.BigInteger()), nullable=True),
    sa.Column('speed_kmh', sa.REAL(), nullable=True),
    sa.Column('odometer_km', sa.Float(), nullable=True),
    sa.Column('latitude_deg', sa.Float(), nullable=True),
    sa.Column('longitude_deg', sa.Float(), nullable=True),
    sa.Column('cell_voltages', postgresql.ARRAY(sa.REAL()), nullable=False),
    sa.Column('cell_temps', postgresql.ARRAY(sa.REAL()), nullable=False),
    sa.PrimaryKeyConstraint('vehicle_id', 'ts', name='pk_pack_samples')
    )
    op.create_table('vehicles',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('depot_id', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('registration', sa.Text(), nullable=True),
    sa.Column('commissioned_on', sa.Date(), nullable=True),
    sa.Column('in_maintenance', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['depot_id'], ['depots.depot_id'], ),
    sa.PrimaryKeyConstraint('vehicle_id')
    )
    op.create_index('ix_vehicles_depot', 'vehicles', ['depot_id'], unique=False)
    op.create_table('packs',
    sa.Column('pack_id', sa.Text(), nullable=False),
    sa.Column('design_id', sa.Text(), nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=True),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cell_lot', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['design_id'], ['pack_designs.design_id'], ),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.vehicle_id'], ),
    sa.PrimaryKeyConstraint('pack_id')
    )
    op.create_index('ix_packs_vehicle', 'packs', ['vehicle_id'], unique=False)
    # ### end Alembic commands ###
    bind = op.get_bind()
    available = bool(bind.exec_driver_sql(timescale.DETECT_SQL).scalar())
    if timescale.wanted_backend(available) == "timescale":
        policy = timescale.TimescalePolicy.from_env()
        for stmt in _hypertable_ddl(policy):
            op.execute(stmt)
        # Continuous aggregates cannot be created inside a transaction block.
        with op.get_context().autocommit_block():
            for stmt in _CONTINUOUS_AGGREGATE_DDL:
                op.execute(stmt)
            for stmt in _aggregate_policy_ddl(policy):
                op.execute(stmt)
    else:
        for stmt in _plain_ddl():
            op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    on_timescale = bool(
        bind.exec_driver_sql(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).scalar()
    )
    if on_timescale:
        for name in reversed(_ROLLUPS):
            op.execute(f"DROP MATERIALIZED VIEW IF EXISTS {name} CASCADE")
    else:
        for stmt in _plain_drop_ddl():
            op.execute(stmt)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index('ix_packs_vehicle', table_name='packs')
    op.drop_table('packs')
    op.drop_index('ix_vehicles_depot', table_name='vehicles')
    op.drop_table('vehicles')
    op.drop_table('pack_samples')
    op.drop_index('ix_pack_health_vehicle_ts', table_name='pack_health')
    op.drop_table('pack_health')
    op.drop_table('pack_designs')
    op.drop_table('ingest_batches')
    op.drop_table('depots')
    op.drop_index('ix_anomalies_vehicle_ts', table_name='anomalies')
    op.drop_index('ix_anomalies_kind_ts', table_name='anomalies')
    op.drop_table('anomalies')
    op.drop_index('ix_alerts_vehicle_kind_location', table_name='alerts')
    op.drop_index('ix_alerts_state', table_name='alerts')
    op.drop_table('alerts')
    # ### end Alembic commands ###
