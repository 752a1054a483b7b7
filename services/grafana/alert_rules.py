"""Unified-alerting rules, the contact point and the notification policy.

Each rule is one SQL query (``A``, table format: label columns and one numeric
``value`` per bus, so Grafana makes one alert instance per bus) and a
threshold expression (``C``) on it. Rules read the minute rollups where a
window is enough, and raw samples only through the primary key (one newest
row per bus). Notifications go to the alerts service's webhook, whose URL
Grafana takes from ``PACKWATCH_ALERTS_WEBHOOK_URL`` when it provisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.models import alerting as am

from services.grafana import limits
from services.grafana.datasources import POSTGRES_UID
from services.grafana.sqlquery import SqlQuery

GROUP = "packwatch-packs"
INTERVAL_S = 60
CONTACT_POINT = "packwatch alerts webhook"
CONTACT_UID = "packwatch-alerts-webhook"
WEBHOOK_ENV = "PACKWATCH_ALERTS_WEBHOOK_URL"

Op = Literal["gt", "lt"]


@dataclass(frozen=True)
class RuleSpec:
    """What one rule watches: its query over a window, and when a bus fires."""

    uid: str
    title: str
    sql: str
    window_s: int
    op: Op
    threshold: float
    for_: str
    severity: str
    summary: str


OVER_TEMPERATURE = RuleSpec(
    uid="packwatch-pack-over-temperature",
    title="Pack over temperature",
    sql="""SELECT vehicle_id, max(cell_temp_max_c)::float8 AS value
FROM pack_samples_1m WHERE $__timeFilter(bucket)
GROUP BY vehicle_id""",
    window_s=300,
    op="gt",
    threshold=limits.CELL_TEMP_HIGH_C,
    for_="1m",
    severity="critical",
    summary="Hottest cell of {{ $labels.vehicle_id }} above "
    f"{limits.CELL_TEMP_HIGH_C:g} °C in the last 5 minutes",
)

INSULATION_LOW = RuleSpec(
    uid="packwatch-insulation-low",
    title="Insulation resistance low",
    sql="""SELECT vehicle_id, min(insulation_kohm_min)::float8 AS value
FROM pack_samples_1m WHERE $__timeFilter(bucket) AND insulation_kohm_min IS NOT NULL
GROUP BY vehicle_id""",
    window_s=300,
    op="lt",
    threshold=limits.INSULATION_LOW_KOHM,
    for_="2m",
    severity="critical",
    summary="Insulation of {{ $labels.vehicle_id }} below "
    f"{limits.INSULATION_LOW_KOHM:g} kΩ (500 Ω/V)",
)

# The newest sample of each bus (primary-key lookup): its bus time to its commit.
INGEST_LAG = RuleSpec(
    uid="packwatch-ingest-lag-high",
    title="Ingest lag high",
    sql="""SELECT v.vehicle_id, extract(epoch FROM l.ingested_at - l.ts)::float8 AS value
FROM vehicles AS v
JOIN LATERAL (
    SELECT s.ts, s.ingested_at FROM pack_samples AS s
    WHERE s.vehicle_id = v.vehicle_id AND $__timeFilter(s.ts)
    ORDER BY s.ts DESC LIMIT 1
) AS l ON true""",
    window_s=600,
    op="gt",
    threshold=limits.INGEST_LAG_HIGH_S,
    for_="5m",
    severity="warning",
    summary="Samples of {{ $labels.vehicle_id }} reach the database more than "
    f"{limits.INGEST_LAG_HIGH_S:g} s after the bus took them",
)

# A bus with no sample in the day counts as silent for the whole day (1440 min).
BUS_SILENT = RuleSpec(
    uid="packwatch-bus-silent",
    title="No data from a bus",
    sql="""SELECT v.vehicle_id,
       coalesce(extract(epoch FROM $__timeTo()::timestamptz - l.ts) / 60, 1440)::float8 AS value
FROM vehicles AS v
LEFT JOIN LATERAL (
    SELECT s.ts FROM pack_samples AS s
    WHERE s.vehicle_id = v.vehicle_id AND $__timeFilter(s.ts)
    ORDER BY s.ts DESC LIMIT 1
) AS l ON true
WHERE NOT v.in_maintenance""",
    window_s=86400,
    op="gt",
    threshold=limits.SILENT_AFTER_MIN,
    for_="0s",
    severity="warning",
    summary="No sample from {{ $labels.vehicle_id }} for more than "
    f"{limits.SILENT_AFTER_MIN:g} minutes",
)

RULES = (OVER_TEMPERATURE, INSULATION_LOW, INGEST_LAG, BUS_SILENT)


def _rule(spec: RuleSpec, folder_uid: str) -> alerting.Rule:
    query = (
        alerting.Query("A")
        .datasource_uid(POSTGRES_UID)
        .relative_time_range(am.RelativeTimeRange(from_val=spec.window_s, to=0))
        .model(SqlQuery(spec.sql).format("table").ref_id("A"))
    )
    condition = (
        alerting.Query("C")
        .datasource_uid("__expr__")
        .model(
            expr.TypeThreshold()
            .ref_id("C")
            .expression("A")
            .conditions(
                [
                    expr.ExprTypeThresholdConditions().evaluator(
                        expr.ExprTypeThresholdConditionsEvaluator()
                        .type(spec.op)
                        .params([spec.threshold])
                    )
                ]
            )
        )
    )
    return (
        alerting.Rule(spec.title)
        .uid(spec.uid)
        .folder_uid(folder_uid)
        .rule_group(GROUP)
        .org_id(1)
        .condition("C")
        .queries([query, condition])
        .for_val(spec.for_)
        .no_data_state("OK")
        .exec_err_state("Error")
        .labels({"severity": spec.severity, "source": "grafana", "team": "maintenance"})
        .annotations({"summary": spec.summary})
    )


def rule_group(folder_uid: str) -> dict[str, Any]:
    """The group as the alerting provisioning HTTP API takes it (``PUT …/rule-groups/…``)."""
    group = (
        alerting.RuleGroup(GROUP)
        .folder_uid(folder_uid)
        .interval(INTERVAL_S)
        .rules([_rule(s, folder_uid) for s in RULES])
        .build()
    )
    out: dict[str, Any] = group.to_json()
    return out


def contact_point(url: str) -> dict[str, Any]:
    """The webhook contact point (provisioning HTTP API shape)."""
    cp = (
        alerting.ContactPoint()
        .uid(CONTACT_UID)
        .name(CONTACT_POINT)
        .type("webhook")
        .settings({"url": url, "httpMethod": "POST"})
        .disable_resolve_message(False)
        .build()
    )
    out: dict[str, Any] = cp.to_json()
    return out


def policy() -> dict[str, Any]:
    """The root notification policy: everything to the webhook, one group per bus and rule."""
    pol = (
        alerting.NotificationPolicy()
        .receiver(CONTACT_POINT)
        .group_by(["alertname", "vehicle_id"])
        .group_wait("30s")
        .group_interval("5m")
        .repeat_interval("4h")
        .build()
    )
    out: dict[str, Any] = pol.to_json()
    return out
