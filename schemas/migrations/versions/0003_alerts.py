"""Alert lifecycle: lifecycle columns on alerts; events, audit, outbox, routes, notifications.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TSTZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
EMPTY = sa.text("'{}'::jsonb")
ALERT_COLUMNS = (
    ("version", sa.Integer(), False, sa.text("1")),
    ("cell_index", sa.SmallInteger(), True, None),
    ("sensor_index", sa.SmallInteger(), True, None),
    ("condition", sa.Text(), False, sa.text("'active'")),
    ("condition_since", TSTZ, True, None),
    ("event_severity", sa.Text(), True, None),
    ("severity_since", TSTZ, True, None),
    ("reopen_count", sa.Integer(), False, sa.text("0")),
    ("last_event_id", sa.Text(), True, None),
)


def upgrade() -> None:
    for name, type_, nullable, default in ALERT_COLUMNS:
        op.add_column(
            "alerts", sa.Column(name, type_, nullable=nullable, server_default=default)
        )
    op.create_index(
        "ux_alerts_live_key",
        "alerts",
        ["vehicle_id", "kind", "location"],
        unique=True,
        postgresql_where=sa.text("state IN ('open', 'acknowledged')"),
    )
    op.create_table(
        "alert_events",
        sa.Column("event_id", sa.Text(), primary_key=True),
        sa.Column("alert_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("ts", TSTZ, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(), nullable=False, server_default=EMPTY),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("received_at", TSTZ, nullable=False, server_default=NOW),
    )
    op.create_index("ix_alert_events_alert", "alert_events", ["alert_id", "ts"])
    op.create_table(
        "alert_audit",
        sa.Column("audit_id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", TSTZ, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=EMPTY),
        sa.UniqueConstraint("alert_id", "version", name="uq_alert_audit_version"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("outbox_id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False, unique=True),
        sa.Column("alert_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("sent_at", TSTZ, nullable=True),
    )
    op.create_index(
        "ix_alert_outbox_unsent",
        "alert_outbox",
        ["outbox_id"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "alert_routes",
        sa.Column("route_id", sa.Text(), primary_key=True),
        sa.Column("depot_id", sa.Text(), nullable=True),
        sa.Column("min_severity", sa.Text(), nullable=False, server_default=sa.text("'warning'")),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "min_severity IN ('info', 'warning', 'critical')", name="ck_alert_routes_severity"
        ),
        sa.CheckConstraint("channel IN ('webhook', 'email')", name="ck_alert_routes_channel"),
        sa.CheckConstraint(
            "format IN ('json', 'slack', 'teams', 'email')", name="ck_alert_routes_format"
        ),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("notification_id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("change_key", sa.Text(), nullable=False),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("alert_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TSTZ, nullable=False, server_default=NOW),
        sa.Column("sent_at", TSTZ, nullable=True),
        sa.UniqueConstraint("change_key", "route_id", name="uq_alert_notifications_change_route"),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'dead')", name="ck_alert_notifications_state"
        ),
    )
    op.create_index(
        "ix_alert_notifications_due",
        "alert_notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "vehicle_maintenance_log",
        sa.Column("entry_id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("vehicle_id", sa.Text(), nullable=False),
        sa.Column("in_maintenance", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", TSTZ, nullable=False, server_default=NOW),
    )
    op.create_index(
        "ix_vehicle_maintenance_log_vehicle", "vehicle_maintenance_log", ["vehicle_id", "at"]
    )


def downgrade() -> None:
    for table in (
        "vehicle_maintenance_log",
        "alert_notifications",
        "alert_routes",
        "alert_outbox",
        "alert_audit",
        "alert_events",
    ):
        op.drop_table(table)
    op.drop_index("ux_alerts_live_key", table_name="alerts")
    for name, *_ in reversed(ALERT_COLUMNS):
        op.drop_column("alerts", name)
