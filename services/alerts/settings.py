"""Settings of the alerts service (environment prefix ``PACKWATCH_ALERTS_``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.common import Severity
from schemas.topics import ALERTS, ANOMALIES, DLQ
from services.alerts.lifecycle import Policy


class AlertsSettings(BaseSettings):
    """Lifecycle timings, loop cadences, delivery limits and endpoints."""

    model_config = SettingsConfigDict(env_prefix="PACKWATCH_ALERTS_", extra="ignore", frozen=True)

    group_id: str = "packwatch-alerts"
    topic: str = ANOMALIES.name
    alerts_topic: str = ALERTS.name
    dlq_topic: str = DLQ.name
    group_instance_id: str | None = None
    session_timeout_ms: int = Field(default=10_000, ge=6000)
    batch_max_events: int = Field(default=500, ge=1, le=10_000)

    auto_resolve_after_s: float = Field(default=600.0, gt=0)
    reopen_holdoff_s: float = Field(default=1800.0, ge=0)
    escalate_info_after_s: float = Field(default=4 * 3600.0, gt=0)
    escalate_warning_after_s: float = Field(default=1800.0, gt=0)
    # "wall": time-driven changes follow this machine's clock; "event": they follow
    # the newest event timestamp seen (replays and tests that drive time by events).
    clock: Literal["wall", "event"] = "wall"
    sweep_interval_s: float = Field(default=1.0, gt=0)

    relay_interval_s: float = Field(default=0.2, gt=0)
    relay_batch: int = Field(default=500, ge=1)

    notify_interval_s: float = Field(default=0.2, gt=0)
    notify_batch: int = Field(default=50, ge=1)
    notify_concurrency: int = Field(default=8, ge=1, le=64)
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_backoff_initial_s: float = Field(default=1.0, gt=0)
    notify_backoff_max_s: float = Field(default=300.0, gt=0)
    notify_timeout_s: float = Field(default=10.0, gt=0)
    # A claimed notification not settled within this time is offered again (its
    # deliverer died mid-flight).
    notify_lease_s: float = Field(default=60.0, gt=0)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "packwatch@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None

    api_base_url: str = "http://127.0.0.1:8080"
    grafana_url: str | None = None

    # Failure tests only (services.alerts.faults): SIGKILL after the N-th committed batch.
    fault_kill_after_commits: int = Field(default=0, ge=0)

    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9104

    def policy(self) -> Policy:
        return Policy(
            auto_resolve_after=timedelta(seconds=self.auto_resolve_after_s),
            reopen_holdoff=timedelta(seconds=self.reopen_holdoff_s),
            escalate_after={
                Severity.INFO: timedelta(seconds=self.escalate_info_after_s),
                Severity.WARNING: timedelta(seconds=self.escalate_warning_after_s),
            },
        )
