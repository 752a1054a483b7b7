"""The two datasources every dashboard and rule refers to, by fixed uid.

Fixed uids let the checked-in dashboards, the provisioning files and the
sync all name the same datasource without looking it up. Secrets and
addresses come from the environment Grafana runs in (``$VAR`` in a
provisioning file is expanded by Grafana at start).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models import dashboard

POSTGRES_UID = "packwatch-timescaledb"
PROMETHEUS_UID = "packwatch-prometheus"
POSTGRES_TYPE = "grafana-postgresql-datasource"
PROMETHEUS_TYPE = "prometheus"
POSTGRES_REF = dashboard.DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)
PROMETHEUS_REF = dashboard.DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)
#: The minimum interval set on the PostgreSQL datasource: the finest rollup.
MIN_INTERVAL = "1m"


def postgres(url: str, database: str, user: str, password: str) -> dict[str, Any]:
    """The PostgreSQL datasource with its TimescaleDB flag on (``$__timeGroup`` → time_bucket)."""
    return {
        "uid": POSTGRES_UID,
        "name": "packwatch TimescaleDB",
        "type": POSTGRES_TYPE,
        "access": "proxy",
        "url": url,
        "user": user,
        "isDefault": True,
        "jsonData": {
            "database": database,
            "sslmode": "disable",
            "postgresVersion": 1700,
            "timescaledb": True,
            "timeInterval": MIN_INTERVAL,
            "maxOpenConns": 10,
        },
        "secureJsonData": {"password": password},
    }


def prometheus(url: str) -> dict[str, Any]:
    """The Prometheus datasource scraping the services' /metrics endpoints."""
    return {
        "uid": PROMETHEUS_UID,
        "name": "packwatch Prometheus",
        "type": PROMETHEUS_TYPE,
        "access": "proxy",
        "url": url,
        "isDefault": False,
        "jsonData": {"timeInterval": "15s", "httpMethod": "POST"},
    }
