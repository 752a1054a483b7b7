"""The alert service's tables: events seen, audit trail, outbox, routing, notifications.

Defined on the shared :data:`schemas.db.tables.metadata`. The ``alerts`` table
itself lives in :mod:`schemas.db.tables`; migration 0003 adds the lifecycle
columns it needs, which are listed here as :data:`ALERT_COLUMNS_0003` and
attached to that table object, so one metadata still describes the database.

Exactly-once hinges on three unique keys:

- ``alert_events.event_id``: an AnomalyEvent is applied once, however often
  it is replayed;
- ``alert_outbox.idempotency_key`` (``<alert_id>:<version>``): one row, so one
  Kafka message after deduplication, per alert change;
- ``alert_notifications (change_key, route_id)``: one delivery per change and route.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from schemas.db.tables import NOW, TSTZ, alerts, metadata

SEVERITIES = ("info", "warning", "critical")
CHANNELS = ("webhook", "email")
FORMATS = ("json", "slack", "teams", "email")
NOTIFICATION_STATES = ("pending", "sent", "dead")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


# Lifecycle columns added to ``alerts`` by migration 0003.
ALERT_COLUMNS_0003 = (
    # Bumped on every change; the change's idempotency key is "<alert_id>:<version>".
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("cell_index", SmallInteger),
    Column("sensor_index", SmallInteger),
    # Whether the detector last said the condition is present, and since when
    # (vehicle time): auto-resolution counts from the moment it cleared.
    Column("condition", Text, nullable=False, server_default=text("'active'")),
    Column("condition_since", TSTZ),
    # Severity the events asked for, and when the current severity began
    # (escalation counts from there).
    Column("event_severity", Text),
    Column("severity_since", TSTZ),
    Column("reopen_count", Integer, nullable=False, server_default=text("0")),
    Column("last_event_id", Text),
)
for _column in ALERT_COLUMNS_0003:
    alerts.append_column(_column)
# At most one live alert per (vehicle, kind, location): the flapping guard and
# concurrent writers rely on it.
Index(
    "ux_alerts_live_key",
    alerts.c.vehicle_id,
    alerts.c.kind,
    alerts.c.location,
    unique=True,
    postgresql_where=text("state IN ('open', 'acknowledged')"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("alert_id", UUID(as_uuid=True)),  # NULL when no alert took it (e.g. suppressed)
    Column("vehicle_id", Text, nullable=False),
    Column("ts", TSTZ, nullable=False),
    Column("kind", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("score", Float),
    Column("evidence", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # What the event did: opened, reopened, updated, cleared, suppressed, ignored.
    Column("outcome", Text, nullable=False),
    Column("received_at", TSTZ, nullable=False, server_default=NOW),
    Index("ix_alert_events_alert", "alert_id", "ts"),
)

alert_audit = Table(
    "alert_audit",
    metadata,
    Column("audit_id", BigInteger, primary_key=True, autoincrement=True),
    Column("alert_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", TSTZ, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("from_state", Text),
    Column("to_state", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("comment", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    UniqueConstraint("alert_id", "version", name="uq_alert_audit_version"),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("outbox_id", BigInteger, primary_key=True, autoincrement=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("alert_id", UUID(as_uuid=True), nullable=False),
    Column("vehicle_id", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", TSTZ, nullable=False, server_default=NOW),
    Column("sent_at", TSTZ),
    Index("ix_alert_outbox_unsent", "outbox_id", postgresql_where=text("sent_at IS NULL")),
)

alert_routes = Table(
    "alert_routes",
    metadata,
    Column("route_id", Text, primary_key=True),
    Column("depot_id", Text),  # NULL = every depot
    Column("min_severity", Text, nullable=False, server_default=text("'warning'")),
    Column("channel", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("target", Text, nullable=False),  # a URL, or an e-mail address
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", TSTZ, nullable=False, server_default=NOW),
    CheckConstraint(_in("min_severity", SEVERITIES), name="ck_alert_routes_severity"),
    CheckConstraint(_in("channel", CHANNELS), name="ck_alert_routes_channel"),
    CheckConstraint(_in("format", FORMATS), name="ck_alert_routes_format"),
)

alert_notifications = Table(
    "alert_notifications",
    metadata,
    Column("notification_id", BigInteger, primary_key=True, autoincrement=True),
    Column("change_key", Text, nullable=False),
    Column("route_id", Text, nullable=False),
    Column("alert_id", UUID(as_uuid=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", TSTZ, nullable=False, server_default=NOW),
    Column("last_error", Text),
    Column("created_at", TSTZ, nullable=False, server_default=NOW),
    Column("sent_at", TSTZ),
    UniqueConstraint("change_key", "route_id", name="uq_alert_notifications_change_route"),
    Index(
        "ix_alert_notifications_due",
        "next_attempt_at",
        postgresql_where=text("state = 'pending'"),
    ),
    CheckConstraint(_in("state", NOTIFICATION_STATES), name="ck_alert_notifications_state"),
)

vehicle_maintenance_log = Table(
    "vehicle_maintenance_log",
    metadata,
    Column("entry_id", BigInteger, primary_key=True, autoincrement=True),
    Column("vehicle_id", Text, nullable=False),
    Column("in_maintenance", Boolean, nullable=False),
    Column("actor", Text, nullable=False),
    Column("comment", Text),
    Column("at", TSTZ, nullable=False, server_default=NOW),
    Index("ix_vehicle_maintenance_log_vehicle", "vehicle_id", "at"),
)
