"""Fleet overview: what the fleet is doing right now and today, from the rollups only.

Every query reads ``pack_samples_1m``/``pack_samples_1h``, the registry,
``pack_health`` or ``alerts`` — never raw samples — so a day of a whole fleet
stays cheap; ``packwatch grafana check`` verifies that with EXPLAIN.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
from grafana_foundation_sdk.models.dashboard import Dashboard

from services.grafana import limits
from services.grafana.panels import bars, gauge_bars, grid, series, stats, thresholds

UID = "packwatch-fleet-overview"

# The newest minute of each bus within the online window before the range's end.
_NOW_STATE = f"""WITH last AS (
    SELECT vehicle_id, max(bucket) AS bucket FROM pack_samples_1m
    WHERE bucket > $__timeTo()::timestamptz - INTERVAL '{limits.ONLINE_WITHIN}'
      AND bucket <= $__timeTo()::timestamptz
    GROUP BY vehicle_id
), now_state AS (
    SELECT m.* FROM last JOIN pack_samples_1m AS m USING (vehicle_id, bucket)
)"""

BUS_STATES = f"""{_NOW_STATE}
SELECT count(s.vehicle_id) AS "online",
       count(s.vehicle_id) FILTER (WHERE s.driving_s > 0) AS "driving",
       count(s.vehicle_id) FILTER (WHERE s.charging_s > 0) AS "charging",
       count(*) FILTER (WHERE s.vehicle_id IS NULL) AS "offline",
       (SELECT count(*) FROM vehicles WHERE in_maintenance) AS "in maintenance"
FROM vehicles AS v LEFT JOIN now_state AS s USING (vehicle_id)
WHERE NOT v.in_maintenance"""

SOC_BY_DEPOT = """WITH latest AS (
    SELECT DISTINCT ON (vehicle_id) vehicle_id, soc_pct_avg AS soc
    FROM pack_samples_1m WHERE $__timeFilter(bucket)
    ORDER BY vehicle_id, bucket DESC
)
SELECT v.depot_id AS depot,
       count(*) FILTER (WHERE l.soc < 20) AS "SoC < 20 %",
       count(*) FILTER (WHERE l.soc >= 20 AND l.soc < 50) AS "20-50 %",
       count(*) FILTER (WHERE l.soc >= 50 AND l.soc < 80) AS "50-80 %",
       count(*) FILTER (WHERE l.soc >= 80) AS "SoC >= 80 %"
FROM vehicles AS v JOIN latest AS l USING (vehicle_id)
GROUP BY v.depot_id ORDER BY 1"""

SOH_BY_DEPOT = """WITH latest AS (
    SELECT DISTINCT ON (pack_id) pack_id, vehicle_id, soh_pct AS soh
    FROM pack_health WHERE ts <= $__timeTo()::timestamptz
    ORDER BY pack_id, ts DESC
)
SELECT v.depot_id AS depot,
       count(*) FILTER (WHERE l.soh < 80) AS "SoH < 80 %",
       count(*) FILTER (WHERE l.soh >= 80 AND l.soh < 90) AS "80-90 %",
       count(*) FILTER (WHERE l.soh >= 90 AND l.soh < 95) AS "90-95 %",
       count(*) FILTER (WHERE l.soh >= 95) AS "SoH >= 95 %"
FROM vehicles AS v JOIN latest AS l USING (vehicle_id)
GROUP BY v.depot_id ORDER BY 1"""

OUT_OF_LIMITS = f"""{_NOW_STATE}
SELECT s.vehicle_id AS "bus", v.depot_id AS "depot",
       s.cell_temp_max_c AS "cell max °C", s.cell_temp_min_c AS "cell min °C",
       s.coolant_inlet_c_avg AS "coolant in °C", s.bucket AS "minute"
FROM now_state AS s JOIN vehicles AS v USING (vehicle_id)
WHERE s.cell_temp_max_c > {limits.CELL_TEMP_HIGH_C} OR s.cell_temp_min_c < {limits.CELL_TEMP_LOW_C}
ORDER BY s.cell_temp_max_c DESC"""

OPEN_ALERTS = """SELECT sev AS "severity", count(a.alert_id) AS "open alerts"
FROM unnest(ARRAY['critical', 'warning', 'info']) WITH ORDINALITY AS s(sev, o)
LEFT JOIN alerts AS a ON a.severity = s.sev AND a.state IN ('open', 'acknowledged')
GROUP BY sev, o ORDER BY o"""

ENERGY_TODAY = """SELECT coalesce(sum(energy_in_kwh), 0) AS "charged",
       coalesce(sum(energy_out_kwh), 0) AS "consumed"
FROM pack_samples_1h WHERE $__timeFilter(bucket)"""

ENERGY_BY_HOUR = """SELECT $__timeGroupAlias(bucket, 1h),
       sum(energy_in_kwh) AS "charged", sum(energy_out_kwh) AS "consumed"
FROM pack_samples_1h WHERE $__timeFilter(bucket)
GROUP BY 1 ORDER BY 1"""


def build() -> Dashboard:
    return (
        DashboardBuilder("Fleet overview")
        .uid(UID)
        .tags(["packwatch", "fleet"])
        .description("Buses, charge, health, heat and alerts across the fleet, from rollups.")
        .time("now/d", "now")
        .refresh("1m")
        .timezone("browser")
        .with_panel(stats("Buses now", BUS_STATES, "none", w=12))
        .with_panel(stats("Energy in range", ENERGY_TODAY, "kwatth", w=6))
        .with_panel(
            gauge_bars("Open alerts by severity", OPEN_ALERTS, "none", w=6).thresholds(
                thresholds((None, "green"), (1, "orange"))
            )
        )
        .with_panel(bars("SoC of buses by depot (latest)", SOC_BY_DEPOT, "depot", w=12))
        .with_panel(bars("SoH of packs by depot (latest)", SOH_BY_DEPOT, "depot", w=12))
        .with_panel(grid("Packs outside thermal limits now", OUT_OF_LIMITS, w=12))
        .with_panel(series("Energy charged and consumed per hour", ENERGY_BY_HOUR, "kwatth"))
        .build()
    )
