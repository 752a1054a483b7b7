"""The Kafka topics of packwatch: one declared list that every part reads.

`packwatch infra up` creates them on the local broker, the services subscribe
to them by these names, and a test compares them with ``docker-compose.yml``.
Every topic is keyed by vehicle id, so one bus's data stays in order within a
partition and each service scales out by adding consumers to its group.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and retention."""

    name: str
    partitions: int
    retention_ms: int
    description: str

    def configs(self) -> dict[str, str]:
        """Topic-level configuration given to the broker at creation."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


CAN_RAW = TopicSpec(
    "telemetry.can.v1", 12, 2 * DAY_MS, "CAN frames bundled per bus-second, from the TCU"
)
PACK_SAMPLES = TopicSpec("telemetry.pack.v1", 12, 7 * DAY_MS, "decoded PackSample per bus-second")
DLQ = TopicSpec(
    "telemetry.dlq.v1", 3, 30 * DAY_MS, "messages that failed decoding or validation, with reason"
)
ANOMALIES = TopicSpec("pack.anomalies.v1", 6, 30 * DAY_MS, "AnomalyEvents from scoring")
ALERTS = TopicSpec("pack.alerts.v1", 6, 90 * DAY_MS, "alert lifecycle changes from alerts")

TOPICS: tuple[TopicSpec, ...] = (CAN_RAW, PACK_SAMPLES, DLQ, ANOMALIES, ALERTS)
