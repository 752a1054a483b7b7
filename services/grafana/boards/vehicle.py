"""Vehicle pack detail: one bus's pack over time (template variable ``vehicle``).

Trends come from the minute rollups; the two heatmaps unnest the per-cell
arrays of raw samples for the one bus, cell index × time, grouped to
``$__interval`` (never finer than a minute). Alerts of the bus are
annotations on every time axis.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import (
    AnnotationQuery,
    QueryVariable,
)
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard as DashboardBuilder,
)
from grafana_foundation_sdk.models.dashboard import Dashboard, VariableRefresh, VariableSort

from services.grafana import limits
from services.grafana.datasources import POSTGRES_REF
from services.grafana.panels import cell_heatmap, grid, series, thresholds
from services.grafana.sqlquery import SqlAnnotationTarget

UID = "packwatch-vehicle-pack"

VEHICLES = "SELECT vehicle_id FROM vehicles ORDER BY vehicle_id"


def _minutes(columns: str) -> str:
    return f"""SELECT $__timeGroupAlias(bucket, $__interval),
       {columns}
FROM pack_samples_1m WHERE vehicle_id = '$vehicle' AND $__timeFilter(bucket)
GROUP BY 1 ORDER BY 1"""


ELECTRICAL = _minutes(
    'avg(pack_voltage_v_avg) AS "voltage V", avg(pack_current_a_avg) AS "current A", '
    'avg(power_kw_avg) AS "power kW"'
)
SOC = _minutes(
    'min(soc_pct_min) AS "SoC min", avg(soc_pct_avg) AS "SoC", max(soc_pct_max) AS "SoC max"'
)
TEMPERATURES = _minutes(
    'min(cell_temp_min_c) AS "cell min", max(cell_temp_max_c) AS "cell max", '
    'avg(cell_temp_mean_c) AS "cell mean", avg(coolant_inlet_c_avg) AS "coolant in", '
    'avg(coolant_outlet_c_avg) AS "coolant out", avg(ambient_c_avg) AS "ambient"'
)
IMBALANCE = _minutes(
    'max(cell_voltage_spread_max_v) * 1000 AS "cell voltage spread mV", '
    'max(cell_temp_spread_max_c) AS "cell temperature spread °C"'
)
INSULATION = _minutes('min(insulation_kohm_min) AS "insulation kΩ"')


def _cells(array: str, label: str, digits: int) -> str:
    # Series names sort as numbers (zero-padded), so the heatmap's rows run in cell order.
    return f"""SELECT $__timeGroupAlias(s.ts, $__interval),
       '{label} ' || lpad(c.i::text, {digits}, '0') AS metric,
       avg(c.v) AS value
FROM pack_samples AS s CROSS JOIN LATERAL unnest(s.{array}) WITH ORDINALITY AS c(v, i)
WHERE s.vehicle_id = '$vehicle' AND $__timeFilter(s.ts)
GROUP BY 1, 2 ORDER BY 1, 2"""


CELL_VOLTAGES = _cells("cell_voltages", "cell", 3)
CELL_TEMPS = _cells("cell_temps", "sensor", 2)

ALERTS = """SELECT opened_at AS "opened", severity, kind, location, state,
       acknowledged_at AS "acknowledged", resolved_at AS "resolved"
FROM alerts WHERE vehicle_id = '$vehicle' AND $__timeFilter(opened_at)
ORDER BY opened_at DESC"""

ANNOTATIONS = """SELECT opened_at AS time, coalesce(resolved_at, last_event_at) AS timeend,
       severity || ': ' || kind || ' at ' || location || ' (' || state || ')' AS text,
       severity || ',' || kind AS tags
FROM alerts WHERE vehicle_id = '$vehicle' AND $__timeFilter(opened_at)
ORDER BY opened_at"""


def build() -> Dashboard:
    return (
        DashboardBuilder("Vehicle pack detail")
        .uid(UID)
        .tags(["packwatch", "vehicle"])
        .description("One bus's pack: electrical, thermal, cell heatmaps, insulation, alerts.")
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .with_variable(
            QueryVariable("vehicle")
            .label("Bus")
            .datasource(POSTGRES_REF)
            .query(VEHICLES)
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
        .annotation(
            AnnotationQuery()
            .name("Alerts")
            .datasource(POSTGRES_REF)
            .enable(True)
            .icon_color("red")
            .target(SqlAnnotationTarget(ANNOTATIONS))
        )
        .with_panel(series("Pack voltage, current, power", ELECTRICAL, "none"))
        .with_panel(series("State of charge", SOC, "percent"))
        .with_panel(series("Temperatures", TEMPERATURES, "celsius"))
        .with_panel(series("Cell imbalance (max − min)", IMBALANCE, "none"))
        .with_panel(
            series("Insulation resistance", INSULATION, "none").thresholds(
                thresholds((None, "red"), (limits.INSULATION_LOW_KOHM, "green"))
            )
        )
        .with_panel(grid("Alerts of this bus", ALERTS))
        .with_panel(cell_heatmap("Cell voltages", CELL_VOLTAGES, "volt", "RdYlBu"))
        .with_panel(cell_heatmap("Cell temperatures (sensors)", CELL_TEMPS, "celsius", "Turbo"))
        .build()
    )
