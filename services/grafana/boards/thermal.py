"""Thermal and alerts: anomalies by kind, depot and pack design; time to acknowledge."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
from grafana_foundation_sdk.models.dashboard import Dashboard

from services.grafana.panels import bars, grid, series

UID = "packwatch-thermal-alerts"

ACTIVE_BY_KIND = """SELECT kind,
       count(*) FILTER (WHERE severity = 'critical') AS "critical",
       count(*) FILTER (WHERE severity = 'warning') AS "warning",
       count(*) FILTER (WHERE severity = 'info') AS "info"
FROM anomalies WHERE NOT cleared AND $__timeFilter(ts)
GROUP BY kind ORDER BY kind"""

ANOMALIES_OVER_TIME = """SELECT $__timeGroupAlias(ts, $__interval), kind AS metric,
       count(*) AS value
FROM anomalies WHERE $__timeFilter(ts)
GROUP BY 1, 2 ORDER BY 1, 2"""

BY_DEPOT = """SELECT v.depot_id AS depot, a.kind, count(*) AS "anomalies",
       count(*) FILTER (WHERE NOT a.cleared) AS "active",
       count(DISTINCT a.vehicle_id) AS "buses"
FROM anomalies AS a JOIN vehicles AS v USING (vehicle_id)
WHERE $__timeFilter(a.ts)
GROUP BY 1, 2 ORDER BY 1, 2"""

BY_DESIGN = """SELECT d.design_id AS design, d.chemistry, d.cell_supplier AS "cell supplier",
       a.kind, count(*) AS "anomalies", count(DISTINCT a.pack_id) AS "packs"
FROM anomalies AS a JOIN packs AS p USING (pack_id)
JOIN pack_designs AS d ON d.design_id = p.design_id
WHERE $__timeFilter(a.ts)
GROUP BY 1, 2, 3, 4 ORDER BY 1, 4"""

TIME_TO_ACK = """SELECT severity, count(*) AS "acknowledged",
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM acknowledged_at - opened_at)) AS "p50 s",
       percentile_cont(0.9) WITHIN GROUP (
           ORDER BY extract(epoch FROM acknowledged_at - opened_at)) AS "p90 s"
FROM alerts WHERE acknowledged_at IS NOT NULL AND $__timeFilter(opened_at)
GROUP BY severity ORDER BY severity"""

TIME_TO_ACK_TREND = """SELECT $__timeGroupAlias(opened_at, $__interval), severity AS metric,
       avg(extract(epoch FROM acknowledged_at - opened_at)) AS value
FROM alerts WHERE acknowledged_at IS NOT NULL AND $__timeFilter(opened_at)
GROUP BY 1, 2 ORDER BY 1, 2"""

OPEN_ALERTS = """SELECT a.opened_at AS "opened", a.severity, a.kind, a.vehicle_id AS "bus",
       coalesce(a.depot_id, v.depot_id) AS "depot", a.location, a.state,
       extract(epoch FROM now() - a.opened_at) AS "age s"
FROM alerts AS a LEFT JOIN vehicles AS v USING (vehicle_id)
WHERE a.state IN ('open', 'acknowledged')
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.opened_at"""

HOTTEST = """SELECT vehicle_id AS "bus", max(cell_temp_max_c) AS "cell max °C",
       max(cell_temp_spread_max_c) AS "spread °C",
       avg(coolant_outlet_c_avg - coolant_inlet_c_avg) AS "coolant rise °C"
FROM pack_samples_1h WHERE $__timeFilter(bucket)
GROUP BY vehicle_id ORDER BY 2 DESC NULLS LAST LIMIT 10"""


def build() -> Dashboard:
    return (
        DashboardBuilder("Thermal and alerts")
        .uid(UID)
        .tags(["packwatch", "alerts"])
        .description("Active and recent anomalies by kind, depot and pack design; time to ack.")
        .time("now-7d", "now")
        .refresh("1m")
        .timezone("browser")
        .with_panel(bars("Active anomalies by kind", ACTIVE_BY_KIND, "kind", w=12))
        .with_panel(series("Anomalies over time by kind", ANOMALIES_OVER_TIME, "none"))
        .with_panel(grid("Open alerts", OPEN_ALERTS, w=24))
        .with_panel(grid("Anomalies by depot", BY_DEPOT))
        .with_panel(grid("Anomalies by pack design", BY_DESIGN))
        .with_panel(grid("Time to acknowledge by severity", TIME_TO_ACK))
        .with_panel(series("Mean time to acknowledge", TIME_TO_ACK_TREND, "s"))
        .with_panel(grid("Hottest packs in range", HOTTEST, w=24))
        .build()
    )
