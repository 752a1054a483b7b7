"""Settings of ``packwatch grafana`` (environment prefix ``PACKWATCH_GRAFANA_``).

``sync`` writes the datasources with these addresses and credentials; the
provisioning files refer to the same names as ``$VARIABLES`` for Grafana's
own environment. The token and the database password are secrets: no
default, and a placeholder value is refused outside development.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.core.settings import CoreSettings

PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "admin"}


class GrafanaSettings(CoreSettings):
    """Where Grafana is, what it should connect to, where alerts go."""

    model_config = SettingsConfigDict(
        env_prefix="PACKWATCH_GRAFANA_", extra="ignore", frozen=True, populate_by_name=True
    )

    url: str = "http://127.0.0.1:3000"
    token: str | None = Field(default=None, description="service-account token; sync only")
    db_address: str = Field(default="timescaledb:5432", description="host:port as Grafana sees it")
    db_name: str = "packwatch"
    db_user: str = "packwatch"
    db_password: str | None = Field(default=None, description="secret; sync only")
    prometheus_url: str = "http://prometheus:9090"
    alerts_webhook_url: str = Field(
        default="http://alerts:8080/webhooks/grafana",
        description="the alerts service's webhook that Grafana notifications go to",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> GrafanaSettings:
        if self.environment == "development":
            return self
        for name in ("token", "db_password"):
            value = getattr(self, name)
            if value is not None and value.lower() in PLACEHOLDERS:
                raise ValueError(f"PACKWATCH_GRAFANA_{name.upper()} is a placeholder")
        return self
