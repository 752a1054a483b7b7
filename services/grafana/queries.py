"""Every SQL query the provisioned Grafana will run, read back from the generated files.

Panels, template variables and annotations come from the dashboard JSON;
alert-rule queries from the alerting provisioning file. Each :class:`Query`
says what shape its result must have (:func:`shape_errors`), the shape the
panel or rule needs from Grafana's SQL datasource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from services.grafana.datasources import MIN_INTERVAL, POSTGRES_UID
from services.grafana.macros import parse_interval

Shape = Literal["series", "numbers", "table", "annotation", "variable", "rule"]

NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric"}
TIME = {"timestamptz", "timestamp", "date"} | NUMERIC
TEXT = {"text", "varchar", "bpchar", "name"}
# Grafana panels whose table-format query must carry at least one number.
_NUMBER_PANELS = {"stat", "bargauge", "barchart", "gauge", "piechart"}
#: When a panel sets none, about the width in pixels of a half-width panel.
DEFAULT_MAX_DATA_POINTS = 1000


@dataclass(frozen=True)
class Query:
    """One SQL text and what runs it."""

    key: str  # "<dashboard or rule uid>/<panel title or variable>/<refId>"
    dashboard: str
    sql: str
    shape: Shape
    min_interval: timedelta = timedelta(minutes=1)
    max_data_points: int = DEFAULT_MAX_DATA_POINTS
    window: timedelta | None = None  # alert rules: the relative time range
    rule: dict[str, Any] | None = None


def _is_sql(target: dict[str, Any], panel_ds: dict[str, Any] | None) -> bool:
    ds = target.get("datasource") or panel_ds or {}
    return "rawSql" in target and ds.get("uid") == POSTGRES_UID


def panel_queries(model: dict[str, Any]) -> list[Query]:
    """The SQL queries of one dashboard: variables, annotations, then panels."""
    uid = model["uid"]
    out = []
    for var in model.get("templating", {}).get("list", []):
        if var.get("type") == "query" and var.get("datasource", {}).get("uid") == POSTGRES_UID:
            q = var["query"] if isinstance(var["query"], str) else var["query"]["rawSql"]
            out.append(Query(f"{uid}/${var['name']}", uid, q, "variable"))
    for ann in model.get("annotations", {}).get("list", []):
        target = ann.get("target") or {}
        if _is_sql(target, ann.get("datasource")):
            out.append(
                Query(f"{uid}/annotation {ann['name']}", uid, target["rawSql"], "annotation")
            )
    for panel in model.get("panels", []):
        for t in panel.get("targets", []):
            if not _is_sql(t, panel.get("datasource")):
                continue
            if t.get("format") == "time_series":
                shape: Shape = "series"
            elif panel["type"] in _NUMBER_PANELS:
                shape = "numbers"
            else:
                shape = "table"
            out.append(
                Query(
                    f"{uid}/{panel['title']}/{t['refId']}",
                    uid,
                    t["rawSql"],
                    shape,
                    min_interval=parse_interval(panel.get("interval") or MIN_INTERVAL),
                    max_data_points=int(panel.get("maxDataPoints") or DEFAULT_MAX_DATA_POINTS),
                )
            )
    return out


def rule_queries(alerting: dict[str, Any]) -> list[Query]:
    """The SQL queries of the provisioned alert rules (one per rule here)."""
    out = []
    for group in alerting.get("groups", []):
        for rule in group["rules"]:
            for d in rule["data"]:
                if d["datasourceUid"] != POSTGRES_UID:
                    continue
                window = timedelta(seconds=d["relativeTimeRange"]["from"])
                key = f"rule {rule['uid']}/{d['refId']}"
                out.append(
                    Query(key, "rules", d["model"]["rawSql"], "rule", window=window, rule=rule)
                )
    return out


def load(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The dashboards and the alerting file under ``root`` (``infra/grafana``)."""
    boards = [json.loads(p.read_text()) for p in sorted((root / "dashboards").glob("*.json"))]
    alerting = yaml.safe_load((root / "provisioning" / "alerting" / "packwatch.yaml").read_text())
    return boards, alerting


def shape_errors(shape: Shape, columns: list[tuple[str, str]]) -> list[str]:
    """What is wrong with result ``columns`` ((name, PostgreSQL type) pairs) for ``shape``."""
    names = [n for n, _ in columns]
    types = dict(columns)
    errs = []
    if not columns:
        return ["no columns"]
    if shape == "series":
        if "time" not in names or types["time"] not in TIME:
            errs.append('needs a "time" column of a time or epoch type')
        for n, t in columns:
            if n not in ("time", "metric") and t not in NUMERIC:
                errs.append(f"value column {n!r} is {t}, not a number")
        if "metric" in types and types["metric"] not in TEXT:
            errs.append('"metric" must be text')
    elif shape == "numbers":
        if not any(t in NUMERIC for _, t in columns):
            errs.append("needs at least one numeric column")
    elif shape == "annotation":
        if types.get("time") not in TIME - NUMERIC:
            errs.append('needs a "time" timestamp column')
        if types.get("text") not in TEXT:
            errs.append('needs a "text" column')
    elif shape == "variable":
        if columns[0][1] not in TEXT:
            errs.append("first column must be text (the variable's values)")
    elif shape == "rule":
        numbers = [n for n, t in columns if t in NUMERIC]
        if numbers != ["value"]:
            errs.append(f"needs exactly one numeric column named value, has {numbers}")
        for n, t in columns:
            if n != "value" and t not in TEXT:
                errs.append(f"label column {n!r} is {t}, not text")
    return errs
