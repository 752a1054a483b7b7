"""Small constructors for the panels the dashboards use, all on the foundation SDK.

Each takes the panel's title and query and returns an SDK panel builder, so a
dashboard module reads as a list of what operators see.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    common,
    heatmap,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as hm

from services.grafana.datasources import POSTGRES_REF, PROMETHEUS_REF
from services.grafana.sqlquery import Format, SqlQuery


def sql(text: str, fmt: Format = "table", ref: str = "A") -> SqlQuery:
    return SqlQuery(text).format(fmt).ref_id(ref)


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def series(title: str, query: str, unit: str, w: int = 12, h: int = 8) -> timeseries.Panel:
    """A time series from a ``time_series`` query (a ``time`` column, numbers, maybe ``metric``)."""
    return (
        timeseries.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query, "time_series"))
        .unit(unit)
        .span(w)
        .height(h)
        .line_width(1)
        .fill_opacity(8)
    )


def stats(title: str, query: str, unit: str, w: int = 6, h: int = 5) -> stat.Panel:
    """Big numbers, one per numeric column of a one-row ``table`` query."""
    return (
        stat.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query))
        .unit(unit)
        .span(w)
        .height(h)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def bars(title: str, query: str, x_field: str, w: int = 8, h: int = 8) -> barchart.Panel:
    """Stacked bars: one bar per ``x_field`` value, one segment per numeric column."""
    return (
        barchart.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query))
        .x_field(x_field)
        .stacking(cm.StackingMode.NORMAL)
        .show_value(cm.VisibilityMode.AUTO)
        .span(w)
        .height(h)
    )


def gauge_bars(title: str, query: str, unit: str, w: int = 6, h: int = 6) -> bargauge.Panel:
    """One bar per row of a ``table`` query (a label column and a number)."""
    return (
        bargauge.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query))
        .unit(unit)
        .span(w)
        .height(h)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(True))
    )


def grid(title: str, query: str, w: int = 12, h: int = 8) -> table.Panel:
    """A table of whatever the query returns."""
    return (
        table.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query))
        .span(w)
        .height(h)
    )


def cell_heatmap(title: str, query: str, unit: str, scheme: str) -> heatmap.Panel:
    """Cell index (y) × time (x), colour = value: one series per cell, not re-bucketed."""
    return (
        heatmap.Panel()
        .title(title)
        .datasource(POSTGRES_REF)
        .with_target(sql(query, "time_series"))
        .calculate(False)
        .span(24)
        .height(10)
        # Each query row is up to 200 cells: at most ~150 time columns keeps a
        # one-day heatmap at 30,000 cells, and never finer than one minute.
        .interval("1m")
        .max_data_points(150)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(hm.HeatmapColorMode.SCHEME)
            .scheme(scheme)
            .fill("dark-orange")
            .exponent(0.5)
            .steps(64)
        )
        .show_tooltip()
        .y_axis(heatmap.YAxisConfig().unit("none").axis_label("cell / sensor"))
        .cell_values(heatmap.CellValues().unit(unit))
    )


def prom(title: str, exprs: dict[str, str], unit: str, w: int = 12) -> timeseries.Panel:
    """A time series of PromQL expressions: legend format → expression."""
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS_REF)
        .unit(unit)
        .span(w)
        .height(8)
        .line_width(1)
    )
    for i, (legend, expr) in enumerate(exprs.items()):
        panel = panel.with_target(
            prometheus.Dataquery()
            .expr(expr)
            .legend_format(legend)
            .range()
            .ref_id(chr(ord("A") + i))
            .datasource(PROMETHEUS_REF)
        )
    return panel
