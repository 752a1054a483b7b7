"""State of health: SoH and resistance per pack with the model's bounds; fade by design.

Fade per 1,000 equivalent full cycles: SoH lost over the range divided by the
range's energy throughput (charged + discharged, from the hourly rollups) in
units of two nominal pack energies, times 1,000.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import (
    Dashboard as DashboardBuilder,
)
from grafana_foundation_sdk.builders.dashboard import (
    QueryVariable,
)
from grafana_foundation_sdk.models.dashboard import (
    Dashboard,
    DynamicConfigValue,
    VariableRefresh,
    VariableSort,
)

from services.grafana.datasources import POSTGRES_REF
from services.grafana.panels import grid, series

UID = "packwatch-state-of-health"

PACKS = "SELECT pack_id FROM packs WHERE removed_at IS NULL ORDER BY pack_id"

SOH_TREND = """SELECT $__timeGroupAlias(ts, $__interval), pack_id AS metric,
       avg(soh_pct) AS "SoH", avg(soh_low_pct) AS "low", avg(soh_high_pct) AS "high"
FROM pack_health WHERE pack_id IN ($pack) AND $__timeFilter(ts)
GROUP BY 1, 2 ORDER BY 1, 2"""

RESISTANCE_TREND = """SELECT $__timeGroupAlias(ts, $__interval), pack_id AS metric,
       avg(resistance_growth_pct) AS value
FROM pack_health WHERE pack_id IN ($pack) AND $__timeFilter(ts)
GROUP BY 1, 2 ORDER BY 1, 2"""

EFC = "(t.kwh / (2 * d.nominal_ah * d.nominal_v / 1000.0))"
FADE_BY_DESIGN = f"""WITH soh AS (
    SELECT pack_id, vehicle_id,
           (array_agg(soh_pct ORDER BY ts))[1] AS soh_first,
           (array_agg(soh_pct ORDER BY ts DESC))[1] AS soh_last
    FROM pack_health WHERE $__timeFilter(ts) GROUP BY pack_id, vehicle_id
), throughput AS (
    SELECT vehicle_id, sum(energy_in_kwh + energy_out_kwh) AS kwh
    FROM pack_samples_1h WHERE $__timeFilter(bucket) GROUP BY vehicle_id
)
SELECT d.design_id AS design, d.chemistry, d.cell_supplier AS "cell supplier",
       count(*) AS "packs", sum({EFC}) AS "equivalent full cycles",
       avg(s.soh_first - s.soh_last) AS "SoH lost %",
       sum(s.soh_first - s.soh_last) / nullif(sum({EFC}), 0) * 1000
           AS "fade % per 1000 EFC"
FROM soh AS s JOIN packs AS p USING (pack_id)
JOIN pack_designs AS d ON d.design_id = p.design_id
JOIN throughput AS t ON t.vehicle_id = s.vehicle_id
GROUP BY 1, 2, 3 ORDER BY 1"""

LATEST = """SELECT DISTINCT ON (h.pack_id) h.pack_id AS "pack", h.vehicle_id AS "bus",
       d.design_id AS design, d.chemistry, h.soh_pct AS "SoH %",
       h.soh_low_pct AS "low %", h.soh_high_pct AS "high %",
       h.resistance_growth_pct AS "R growth %", cardinality(h.weak_cells) AS "weak cells",
       h.ts AS "estimated"
FROM pack_health AS h JOIN packs AS p USING (pack_id)
JOIN pack_designs AS d ON d.design_id = p.design_id
WHERE h.pack_id IN ($pack) AND h.ts <= $__timeTo()::timestamptz
ORDER BY h.pack_id, h.ts DESC"""

_BOUND = [
    DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [4, 4]}),
    DynamicConfigValue(id_val="custom.fillOpacity", value=0),
]


def build() -> Dashboard:
    return (
        DashboardBuilder("State of health")
        .uid(UID)
        .tags(["packwatch", "health"])
        .description("SoH and resistance trends with uncertainty; fade per 1,000 EFC by design.")
        .time("now-90d", "now")
        .refresh("1h")
        .timezone("browser")
        .with_variable(
            QueryVariable("pack")
            .label("Pack")
            .datasource(POSTGRES_REF)
            .query(PACKS)
            .multi(True)
            .include_all(True)
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
        .with_panel(
            series("SoH per pack (dashed: model bounds)", SOH_TREND, "percent").override_by_regexp(
                ".* (low|high)$", _BOUND
            )
        )
        .with_panel(series("Internal resistance growth per pack", RESISTANCE_TREND, "percent"))
        .with_panel(grid("Fade per 1,000 equivalent full cycles by design", FADE_BY_DESIGN))
        .with_panel(grid("Latest estimate per pack", LATEST))
        .build()
    )
