"""``packwatch grafana check``: run every provisioned SQL query against a database.

Each query is expanded as Grafana would expand it (:mod:`services.grafana.macros`)
over one time range (default: the day before now), run read-only, and its
result columns checked against the shape its panel or rule needs. Overview
panels are also EXPLAINed: a plan that touches raw ``pack_samples`` (or, on
TimescaleDB, one of its chunks) counts in ``raw_scans_in_overview``.

Variable queries run first; a single-value variable takes its first value,
a multi-value one all of them (as "All" would).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.grafana.boards import OVERVIEW_UID
from services.grafana.macros import Context, MacroError, Variable, expand
from services.grafana.queries import Query, load, panel_queries, rule_queries, shape_errors

# Grafana's interval steps (kbn.roundInterval rounds to these); rounding up keeps
# a query at or under its panel's maxDataPoints.
_STEPS_S = (
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200,
    1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800, 2592000, 31536000,
)  # fmt: skip
STATEMENT_TIMEOUT_MS = 60_000


@dataclass
class Outcome:
    key: str
    ok: bool
    rows: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    raw_scan: bool = False
    result: list[asyncpg.Record] = field(default_factory=list)


@dataclass
class Report:
    dashboards: int
    panels: int
    outcomes: list[Outcome]
    raw_scans_in_overview: int
    timescaledb: bool

    def summary(self) -> dict[str, Any]:
        return {
            "dashboards": self.dashboards,
            "panels": self.panels,
            "queries_ok": sum(o.ok for o in self.outcomes),
            "queries_failed": [
                {"query": o.key, "error": o.error} for o in self.outcomes if not o.ok
            ],
            "raw_scans_in_overview": self.raw_scans_in_overview,
        }

    def lines(self) -> Iterator[str]:
        for o in self.outcomes:
            cols = ", ".join(f"{n}:{t}" for n, t in o.columns)
            state = "ok  " if o.ok else "FAIL"
            scan = " [raw scan]" if o.raw_scan else ""
            yield f"{state} {o.key}: {o.rows} rows ({cols}){scan}{' ' + o.error if o.error else ''}"
        yield json.dumps(self.summary(), sort_keys=False)


def auto_interval(span: timedelta, min_interval: timedelta, max_points: int) -> timedelta:
    """``$__interval`` for a panel: span / maxDataPoints, up to a step, at least the minimum."""
    raw = span.total_seconds() / max(max_points, 1)
    step = next((s for s in _STEPS_S if s >= raw), _STEPS_S[-1])
    return max(timedelta(seconds=step), min_interval)


def _walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _walk(child)


async def _raw_relations(conn: asyncpg.Connection, timescaledb: bool) -> set[str]:
    names = {"pack_samples"}
    if timescaledb:
        rows = await conn.fetch(
            "SELECT chunk_name FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'pack_samples'"
        )
        names |= {r["chunk_name"] for r in rows}
    return names


async def _run(
    conn: asyncpg.Connection, q: Query, ctx: Context, explain_raw: set[str] | None
) -> Outcome:
    try:
        sql = expand(q.sql, ctx)
    except MacroError as exc:
        return Outcome(q.key, False, error=f"macro: {exc}")
    try:
        async with conn.transaction(readonly=True):
            stmt = await conn.prepare(sql)
            cols = [(a.name, a.type.name) for a in stmt.get_attributes()]
            rows = await stmt.fetch()
            raw_scan = False
            if explain_raw is not None:
                plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}"))
                raw_scan = any(
                    node.get("Relation Name") in explain_raw for node in _walk(plan[0]["Plan"])
                )
    except asyncpg.PostgresError as exc:
        return Outcome(q.key, False, error=f"{type(exc).__name__}: {exc}")
    errs = shape_errors(q.shape, cols)
    return Outcome(q.key, not errs, len(rows), cols, "; ".join(errs), raw_scan, list(rows))


async def _variables(
    conn: asyncpg.Connection, board: dict[str, Any], base: Context, outcomes: list[Outcome]
) -> dict[str, Variable]:
    out: dict[str, Variable] = {}
    by_name = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
    for q in panel_queries(board):
        if q.shape != "variable":
            continue
        o = await _run(conn, q, base, None)
        outcomes.append(o)
        var = by_name[q.key.rsplit("$", 1)[1]]
        values = tuple(str(r[0]) for r in o.result)
        multi = bool(var.get("multi")) or bool(var.get("includeAll"))
        out[var["name"]] = Variable(
            var["name"], values if multi else values[:1], bool(var.get("multi")),
            bool(var.get("includeAll")),
        )  # fmt: skip
    return out


async def check(dsn: str, root: Path, start: datetime, end: datetime) -> Report:
    """Run every query under ``root`` against ``dsn`` over [start, end]."""
    boards, alerting = load(root)
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        await conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        timescaledb = bool(
            await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
        )
        raw = await _raw_relations(conn, timescaledb)
        outcomes: list[Outcome] = []
        scans = 0
        for board in boards:
            base = Context(start, end, timescaledb=timescaledb)
            variables = await _variables(conn, board, base, outcomes)
            for q in panel_queries(board):
                if q.shape == "variable":
                    continue
                interval = auto_interval(end - start, q.min_interval, q.max_data_points)
                ctx = Context(start, end, interval, timescaledb, variables)
                overview = board["uid"] == OVERVIEW_UID
                o = await _run(conn, q, ctx, raw if overview else None)
                scans += o.raw_scan
                outcomes.append(o)
        for q in rule_queries(alerting):
            assert q.window is not None
            ctx = Context(end - q.window, end, timedelta(seconds=1), timescaledb)
            outcomes.append(await _run(conn, q, ctx, None))
    finally:
        await conn.close()
    panels = sum(len(b.get("panels", [])) for b in boards)
    return Report(len(boards), panels, outcomes, scans, timescaledb)


def firing(rule: dict[str, Any], rows: list[asyncpg.Record]) -> dict[str, bool]:
    """Alert instances of ``rule`` for its query rows: label values → firing.

    Applies the rule's threshold expression (``C`` on ``A``) the way Grafana's
    threshold does on table data: one instance per row, labelled by its text
    columns, compared on its ``value``.
    """
    cond = next(d for d in rule["data"] if d["refId"] == rule["condition"])
    ev = cond["model"]["conditions"][0]["evaluator"]
    limit = float(ev["params"][0])
    ops: dict[str, Callable[[float], bool]] = {
        "gt": lambda v: v > limit,
        "lt": lambda v: v < limit,
        "gte": lambda v: v >= limit,
        "lte": lambda v: v <= limit,
    }
    test = ops[ev["type"]]
    out = {}
    for r in rows:
        labels = ",".join(f"{k}={v}" for k, v in dict(r).items() if k != "value")
        out[labels] = r["value"] is not None and test(float(r["value"]))
    return out
